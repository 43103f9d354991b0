// One app process for the cross-process tests: the cache test app on a Redis store (prefix `flight:`), on a free
// port; prints {"port"} once listening (and, with LOCAL_TIER=1, once its local tier serves). Each run of /slow's
// handler is counted in Redis (INCR slow-runs); GET /local-hits answers how many hits the local tier served.
import { Type } from '@sinclair/typebox';
import { createCache, openLocalTier, redisCacheStore } from '../../src/cache/index.ts';
import { createLogger } from '../../src/log.ts';
import { createRedis, pingRedis } from '../../src/redis/index.ts';
import { testClient } from '../../src/testing/index.ts';
import { cacheTestApp } from './cache-app.ts';

const log = createLogger('silent');
const redis = createRedis({ url: process.env.REDIS_URL!, commandTimeoutMs: 1000, log });
while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 10));
const local = process.env.LOCAL_TIER === '1' ? openLocalTier(redis, { maxBytes: 1 << 20, log, timeoutMs: 1000 }) : null;
while (local !== null && !local.serving) await new Promise((r) => setTimeout(r, 10));
const cache = createCache({ store: redisCacheStore(redis, 'flight:', local), log, timeoutMs: 1000, lockTtlMs: 5000 });
const t = cacheTestApp(cache, { onSlow: async () => void (await redis.incr('slow-runs')) });
t.slowMs.value = 400;
t.app.get('/local-hits', { response: { 200: Type.Object({ hits: Type.Integer(), held: Type.Integer() }) } }, () => ({ hits: cache.counters().localHits, held: local?.size ?? 0 }));
const client = await testClient(t.app);
process.stdout.write(JSON.stringify({ port: Number(new URL(client.url).port) }) + '\n');
process.on('SIGTERM', () => process.exit(0));
