// Redis trouble under a rate limit, killed (connections drop) and hung (SIGSTOP): a fail-open limiter lets
// every request through unlimited (no RateLimit fields, counted), a fail-closed one answers 503 "not applied"
// with Retry-After, both within the request's Redis deadline and at once once the circuit is open; limits
// apply again when Redis is back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { createRateLimiter, rateLimitCollector, redisRateLimitStore, type RateLimiter } from '../src/ratelimit/index.ts';
import { closeRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { rateLimitTestApp, type RateLimitTestApp } from './support/ratelimit-app.ts';
import { connectedClient, startTestRedis, type TestRedis } from './support/redis.ts';

const TIMEOUT_MS = 300;
// Generous for a loaded 2-core machine, yet far below "hung": a request waiting on a stopped Redis never returns.
const ANSWERED_WITHIN_MS = TIMEOUT_MS + 4700;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger('silent');

let server: TestRedis;
let redis: Redis;
const sides = {} as Record<'open' | 'closed', { limiter: RateLimiter; t: RateLimitTestApp; client: TestClient }>;

before(async () => {
  server = await startTestRedis();
  redis = await connectedClient(server, TIMEOUT_MS);
  for (const failure of ['open', 'closed'] as const) {
    const limiter = createRateLimiter({ store: redisRateLimitStore(redis, `${failure}:`), log, timeoutMs: TIMEOUT_MS, failure, breaker: { cooldownMs: 200 } });
    const t = rateLimitTestApp(limiter, TIMEOUT_MS);
    sides[failure] = { limiter, t, client: await testClient(t.app) };
  }
});
after(async () => {
  for (const side of Object.values(sides)) await side.client.close();
  await closeRedis(redis);
  await server.stop();
});

async function timedGet(client: TestClient, path: string) {
  const started = Date.now();
  const res = await client.get(path);
  return { res, ms: Date.now() - started };
}

for (const outage of ['killed', 'hung (SIGSTOP)'] as const) {
  test(`Redis ${outage}: fail-open runs the handler unlimited, fail-closed answers 503; limits resume after`, async () => {
    const { open, closed } = sides;
    for (const side of [open, closed]) assert.ok((await side.client.get('/open')).headers.get('ratelimit') !== null);
    const ran = { open: open.t.calls.open, closed: closed.t.calls.open };
    const failedOpen = open.limiter.counters().failedOpen;
    if (outage === 'killed') await server.kill();
    else server.pause();
    try {
      for (let i = 1; i <= 6; i++) {
        const a = await timedGet(open.client, '/open');
        assert.equal(a.res.status, 200);
        assert.equal(a.res.headers.get('ratelimit'), null, 'no budget was read: no RateLimit field');
        assert.equal(a.res.json().n, ran.open + i, 'answered by the handler');
        assert.ok(a.ms < ANSWERED_WITHIN_MS, `fail-open answered in ${a.ms} ms`);
        const b = await timedGet(closed.client, '/open');
        assert.equal(b.res.status, 503);
        assert.equal(b.res.headers.get('content-type'), 'application/problem+json');
        assert.equal(b.res.headers.get('retry-after'), '1');
        assert.deepEqual([b.res.json().code, b.res.json().applied], ['SERVICE_UNAVAILABLE', false]);
        assert.ok(b.ms < ANSWERED_WITHIN_MS, `fail-closed answered in ${b.ms} ms`);
      }
      assert.equal(closed.t.calls.open, ran.closed, 'fail-closed never ran the handler');
      assert.equal(open.limiter.counters().failedOpen, failedOpen + 6);
      // Open, or half-open while its one probe waits on the dead Redis: either way requests do not wait.
      assert.notEqual(open.limiter.counters().circuit, 'closed');
      assert.notEqual(closed.limiter.counters().circuit, 'closed');
      const families = await rateLimitCollector(open.limiter)();
      assert.ok(families.find((f) => f.name === 'skiff_ratelimit_failed_open_total')!.samples[0].value >= 6);
    } finally {
      if (outage === 'killed') await server.restart();
      else server.resume();
    }
    while (!(await pingRedis(redis, 200))) await sleep(20);
    for (const side of [open, closed]) {
      let res = await side.client.get('/open');
      for (let i = 0; i < 200 && res.headers.get('ratelimit') === null; i++) {
        await sleep(25);
        res = await side.client.get('/open');
      }
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('ratelimit') !== null, 'limits apply again');
      assert.equal(side.limiter.counters().circuit, 'closed');
    }
  });
}
