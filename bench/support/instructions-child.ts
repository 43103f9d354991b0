// Run by bench/instructions.ts under valgrind (bundled, without tsx): warm up, then serve N more requests (N may be
// 0) of one handler and route in process.
import { createRequestHandler } from '../../src/http/index.ts';
import { rawHandler, rawHandlerWithSkiffHeaders } from '../servers/raw-handler.ts';
import { app } from '../servers/skiff-app.ts';
import { assertWritten, serveInProcess } from './in-process.ts';

const handlers = { raw: rawHandler, raw_headers: rawHandlerWithSkiffHeaders, skiff: createRequestHandler({ app, cors: null }) };
const [name, url, warmUp, n] = process.argv.slice(2);
await serveInProcess(handlers[name as keyof typeof handlers], url, Number(warmUp));
await serveInProcess(handlers[name as keyof typeof handlers], url, Number(n));
assertWritten();
