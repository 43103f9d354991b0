// skiff as a production deployment runs it: access log off (as Fastify's logger), response validation off.
import { Type } from '@sinclair/typebox';
import { createServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log.ts';
import { createApp } from '../../src/router/index.ts';
import { Item, ItemParams } from './shapes.ts';

const log = createLogger('warn');
const app = createApp({ log, responseValidation: false });
app.get('/hello', { response: { 200: Type.Object({ hello: Type.String() }) } }, () => ({ hello: 'world' }));
app.get('/items/{id}', { params: ItemParams, response: { 200: Item } }, (ctx) => {
  const id = ctx.params.id;
  return { id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 };
});
const server = createServer(app, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, drainTimeoutMs: 1000, cors: { origins: [], methods: [], headers: [] } }, log);
await server.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
