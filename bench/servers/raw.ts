// raw node:http serving the baseline handler (bench/servers/raw-handler.ts); RAW_HEADERS=skiff adds the headers
// skiff sends on every answer (the like-for-like baseline).
import http from 'node:http';
import { rawHandler, rawHandlerWithSkiffHeaders } from './raw-handler.ts';

const handler = process.env.RAW_HEADERS === 'skiff' ? rawHandlerWithSkiffHeaders : rawHandler;
http.createServer(handler).listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
