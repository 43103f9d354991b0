// skiff serving the benchmark app (bench/servers/skiff-app.ts) with production server settings.
import { createServer } from '../../src/http/index.ts';
import { app, log } from './skiff-app.ts';

const server = createServer(app, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, drainTimeoutMs: 1000, cors: { origins: [], methods: [], headers: [] } }, log);
await server.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
