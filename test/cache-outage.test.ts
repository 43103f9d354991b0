// Redis trouble mid-test: killed (connections drop) and hung (SIGSTOP). Every request is still answered by
// its handler, bounded by the command timeout; caching resumes when Redis is back; an invalidation made
// while Redis was hung is applied before this process serves from the cache again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pingRedis } from '../src/redis/index.ts';
import { startCacheHarness, type CacheHarness } from './support/cache-app.ts';

const TIMEOUT_MS = 300;
// Generous for a loaded 2-core machine, yet far below "hung": a request waiting on a stopped Redis never returns.
const ANSWERED_WITHIN_MS = TIMEOUT_MS + 4700;
let h: CacheHarness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  h = await startCacheHarness({ timeoutMs: TIMEOUT_MS, breaker: { cooldownMs: 200 } });
});
after(() => h.stop());

async function timedGet(path: string) {
  const started = Date.now();
  const res = await h.client.get(path);
  return { res, ms: Date.now() - started };
}

async function untilHit(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await h.client.get(path)).headers.get('x-cache') === 'HIT') return;
    await sleep(25);
  }
  assert.fail(`${path} never became a HIT again`);
}

for (const outage of ['killed', 'hung (SIGSTOP)'] as const) {
  test(`Redis ${outage}: every request is answered by the handler within the timeout; caching resumes after`, async () => {
    await h.client.get('/things/x');
    assert.equal((await h.client.get('/things/x')).headers.get('x-cache'), 'HIT');
    const before = h.calls.things;
    if (outage === 'killed') await h.server.kill();
    else h.server.pause();
    try {
      for (let i = 1; i <= 6; i++) {
        const { res, ms } = await timedGet('/things/x');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-cache'), 'BYPASS');
        assert.match(res.headers.get('cache-status')!, /detail=store-unavailable/);
        assert.equal(res.json().n, before + i, 'answered by the handler');
        assert.ok(ms < ANSWERED_WITHIN_MS, `answered in ${ms} ms`);
      }
      assert.equal(h.cache.counters().circuit, 'open');
    } finally {
      if (outage === 'killed') await h.server.restart();
      else h.server.resume();
    }
    while (!(await pingRedis(h.redis, 200))) await sleep(20);
    await untilHit('/things/x');
    assert.equal(h.cache.counters().circuit, 'closed');
  });
}

test('an invalidation made while Redis hangs is applied before cached reads resume', async () => {
  await h.client.get('/things/y');
  assert.equal((await h.client.get('/things/y')).headers.get('x-cache'), 'HIT');
  h.server.pause();
  try {
    const res = await h.client.post('/things/y');
    assert.equal(res.status, 204, 'the write succeeds; its invalidation is deferred');
  } finally {
    h.server.resume();
  }
  while (!(await pingRedis(h.redis, 200))) await sleep(20);
  // The stale entry is still in Redis; the deferred invalidation must win before any hit is served.
  let res = await h.client.get('/things/y');
  for (let i = 0; i < 100 && res.headers.get('x-cache') === 'BYPASS'; i++) {
    await sleep(25);
    res = await h.client.get('/things/y');
  }
  assert.equal(res.headers.get('x-cache'), 'MISS');
  assert.equal(res.json().n, h.calls.things);
});
