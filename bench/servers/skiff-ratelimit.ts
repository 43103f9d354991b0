// skiff with a rate limit on a Redis store (REDIS_URL), production settings: the same two handlers served plain
// and behind a limit high enough never to refuse (one store call per request, key per client IP).
import { Type } from '@sinclair/typebox';
import { createServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log.ts';
import { createRateLimiter, redisRateLimitStore } from '../../src/ratelimit/index.ts';
import { createRedis, pingRedis } from '../../src/redis/index.ts';
import { createApp } from '../../src/router/index.ts';
import { Item, ItemParams } from './shapes.ts';

const log = createLogger('warn');
const redis = createRedis({ url: process.env.REDIS_URL!, commandTimeoutMs: 1000, log, name: 'bench-ratelimit' });
while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 20));
const limiter = createRateLimiter({ store: redisRateLimitStore(redis, 'bench:'), log, timeoutMs: 1000 });
const limited = limiter.route({ policies: [{ name: 'bench', quota: 1_000_000, windowS: 1 }], key: 'ip' });

const Page = Type.Object({ items: Type.Array(Item), next: Type.Union([Type.Integer(), Type.Null()]) });
const page = (start: number) => ({
  items: Array.from({ length: 20 }, (_, i) => ({ id: start + i, name: `item ${start + i}`, price: (start + i) * 1.5, in_stock: i % 2 === 0 })),
  next: start + 20,
});
const Hello = Type.Object({ hello: Type.String() });

const app = createApp({ log, responseValidation: false });
app.get('/plain/hello', { response: { 200: Hello } }, () => ({ hello: 'world' }));
app.get('/limited/hello', { response: { 200: Hello }, use: [limited] }, () => ({ hello: 'world' }));
app.get('/plain/items/{id}', { params: ItemParams, response: { 200: Page } }, (ctx) => page(ctx.params.id));
app.get('/limited/items/{id}', { params: ItemParams, response: { 200: Page }, use: [limited] }, (ctx) => page(ctx.params.id));
const server = createServer(app, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, drainTimeoutMs: 1000, cors: { origins: [], methods: [], headers: [] } }, log);
await server.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.send?.('ready');
