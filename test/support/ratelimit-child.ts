// One app process for the rate-limit accuracy test: GET /acc spends from policy `acc` (ACC_QUOTA per ACC_WINDOW_S,
// burst ACC_BURST) per client IP on a Redis (REDIS_URL) or in-memory store; GET /decisions lists what its limiter
// decided, on the limiter's own clock, by request id. Prints {"port":N} once listening.
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { createServer } from '../../src/http/index.ts';
import { createLogger } from '../../src/log.ts';
import { createRateLimiter, memoryRateLimitStore, redisRateLimitStore, type RateLimitDecision } from '../../src/ratelimit/index.ts';
import { createRedis, pingRedis } from '../../src/redis/index.ts';
import { createApp } from '../../src/router/index.ts';

const log = createLogger('silent');
const url = process.env.REDIS_URL;
let store = memoryRateLimitStore();
if (url !== undefined) {
  const redis = createRedis({ url, commandTimeoutMs: 2000, log });
  while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 10));
  store = redisRateLimitStore(redis, 'accuracy:');
}
const limiter = createRateLimiter({ store, log, timeoutMs: 2000 });
const decisions: RateLimitDecision[] = [];
limiter.observe((d) => decisions.push(d));
const policy = { name: 'acc', quota: Number(process.env.ACC_QUOTA), windowS: Number(process.env.ACC_WINDOW_S), burst: Number(process.env.ACC_BURST) };
// A generous deadline: the test is about counting, not about a loaded machine's Redis latency.
const app = createApp({ log, redisTimeoutMs: 5000 });
app.get('/acc', { response: { 200: Type.Object({ ok: Type.Boolean() }) }, use: [limiter.route({ policies: [policy], key: 'ip' })] }, () => ({ ok: true }));
app.get('/decisions', { response: { 200: Type.Array(Type.Object({ requestId: Type.String(), allowed: Type.Boolean(), at: Type.Number() })) } },
  () => decisions.map((d) => ({ requestId: d.requestId, allowed: d.allowed, at: d.at })));
const server = createServer(app, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, drainTimeoutMs: 1000, cors: { origins: [], methods: [], headers: [] } }, log);
const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
