// The app skiff's HTTP benchmarks serve, as production runs it: access log off (as Fastify's logger), response
// validation off. bench/servers/skiff.ts serves it over a socket; bench/hot-path.ts calls its handler in process.
import { Type } from '@sinclair/typebox';
import { createLogger } from '../../src/log.ts';
import { createApp } from '../../src/router/index.ts';
import { Item, ItemParams } from './shapes.ts';

export const log = createLogger('warn');
export const app = createApp({ log, responseValidation: false });
app.get('/hello', { response: { 200: Type.Object({ hello: Type.String() }) } }, () => ({ hello: 'world' }));
app.get('/items/{id}', { params: ItemParams, response: { 200: Item } }, (ctx) => {
  const id = ctx.params.id;
  return { id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 };
});
