// skiff with the response cache on a Redis store (REDIS_URL) behind the local tier, production settings:
// /hello, one handler served cached and uncached, and a cached ~50 KB body.
import { Type } from '@sinclair/typebox';
import { createCache, openLocalTier, redisCacheStore } from '../../src/cache/index.ts';
import { createServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log.ts';
import { createRedis, pingRedis } from '../../src/redis/index.ts';
import { createApp } from '../../src/router/index.ts';
import { Item, ItemParams } from './shapes.ts';

const log = createLogger('warn');
const redis = createRedis({ url: process.env.REDIS_URL!, commandTimeoutMs: 1000, log, name: 'bench-cache' });
while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 20));
const local = openLocalTier(redis, { maxBytes: 32 * 1024 * 1024, log, timeoutMs: 1000 });
while (!local.serving) await new Promise((r) => setTimeout(r, 20));
const cache = createCache({ store: redisCacheStore(redis, 'bench:', local), log, timeoutMs: 1000 });
const cached = cache.route({ ttl: 3600, scope: 'public', tags: ['items'] });

// The handler a cache saves: a page of 20 items built and serialized through its schema.
const Page = Type.Object({ items: Type.Array(Item), next: Type.Union([Type.Integer(), Type.Null()]) });
const page = (start: number) => ({
  items: Array.from({ length: 20 }, (_, i) => ({ id: start + i, name: `item ${start + i}`, price: (start + i) * 1.5, in_stock: i % 2 === 0 })),
  next: start + 20,
});
const Big = Type.Object({ rows: Type.Array(Type.Object({ id: Type.Integer(), text: Type.String() })) });
const big = { rows: Array.from({ length: 500 }, (_, id) => ({ id, text: 'x'.repeat(80) })) };

const app = createApp({ log, responseValidation: false });
app.get('/hello', { response: { 200: Type.Object({ hello: Type.String() }) } }, () => ({ hello: 'world' }));
app.get('/uncached/items/{id}', { params: ItemParams, response: { 200: Page } }, (ctx) => page(ctx.params.id));
app.get('/cached/items/{id}', { params: ItemParams, response: { 200: Page }, use: [cached] }, (ctx) => page(ctx.params.id));
app.get('/cached/big', { response: { 200: Big }, use: [cached] }, () => big);
const server = createServer(app, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, drainTimeoutMs: 1000, cors: { origins: [], methods: [], headers: [] } }, log);
await server.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
