// Fastify 5 with the same schemas as TypeBox (ajv for the param, fast-json-stringify for the response), logger off.
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import { Item, ItemParams } from './shapes.ts';

const app = Fastify({ logger: false });
app.get('/hello', { schema: { response: { 200: Type.Object({ hello: Type.String() }) } } }, async () => ({ hello: 'world' }));
app.get<{ Params: { id: number } }>('/items/:id', { schema: { params: ItemParams, response: { 200: Item } } }, async (req) => {
  const id = req.params.id;
  return { id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
