// A hung Redis (SIGSTOP) and the cache: a cached route waits on Redis once per request, not once per call, and
// while the circuit is open no client request waits at all (the half-open probe runs in the background).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pingRedis } from '../src/redis/index.ts';
import { startCacheHarness, type CacheHarness } from './support/cache-app.ts';

const BOUND_MS = 500;
const COOLDOWN_MS = 150;
let h: CacheHarness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  h = await startCacheHarness({ timeoutMs: BOUND_MS, breaker: { failureThreshold: 3, cooldownMs: COOLDOWN_MS } });
});
after(() => h.stop());

async function timedGet(path: string) {
  const started = Date.now();
  const res = await h.client.get(path);
  return { res, ms: Date.now() - started };
}

test('sequential requests on a hung Redis: once the circuit is open, none waits the bound, across cool-downs', async () => {
  await h.client.get('/static');
  h.server.pause();
  try {
    // The first requests find out: each waits (about) the bound, until the circuit opens.
    for (let i = 0; i < 3; i++) assert.equal((await h.client.get('/static')).headers.get('x-cache'), 'BYPASS');
    assert.equal(h.cache.counters().circuit, 'open');
    // Spaced past the cool-down several times: a probe is due each time, and no request may be the one to wait.
    for (let i = 0; i < 6; i++) {
      await sleep(COOLDOWN_MS + 30);
      const { res, ms } = await timedGet('/static');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-cache'), 'BYPASS');
      assert.ok(ms < BOUND_MS, `request ${i} after the circuit opened took ${ms} ms (bound ${BOUND_MS} ms)`);
    }
    assert.notEqual(h.cache.counters().circuit, 'closed');
  } finally {
    h.server.resume();
  }
  while (!(await pingRedis(h.redis, 200))) await sleep(20);
  // The background probe closes the circuit; traffic need not do it.
  for (let i = 0; i < 100 && h.cache.counters().circuit !== 'closed'; i++) {
    await h.client.get('/static');
    await sleep(COOLDOWN_MS / 3);
  }
  assert.equal(h.cache.counters().circuit, 'closed');
});
