// One app process for the cross-process single-flight test: the cache test app on a Redis store, on a free
// port; prints {"port"} once listening. Each run of /slow's handler is counted in Redis (INCR slow-runs).
import { createCache, redisCacheStore } from '../../src/cache/index.ts';
import { createLogger } from '../../src/log.ts';
import { createRedis, pingRedis } from '../../src/redis/index.ts';
import { testClient } from '../../src/testing/index.ts';
import { cacheTestApp } from './cache-app.ts';

const log = createLogger('silent');
const redis = createRedis({ url: process.env.REDIS_URL!, commandTimeoutMs: 1000, log });
while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 10));
const cache = createCache({ store: redisCacheStore(redis, 'flight:'), log, timeoutMs: 1000, lockTtlMs: 5000 });
const t = cacheTestApp(cache, { onSlow: async () => void (await redis.incr('slow-runs')) });
t.slowMs.value = 400;
const client = await testClient(t.app);
process.stdout.write(JSON.stringify({ port: Number(new URL(client.url).port) }) + '\n');
process.on('SIGTERM', () => process.exit(0));
