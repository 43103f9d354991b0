// The one suite every rate-limit store passes (Redis and the in-memory map). Windows are long (an interval of
// minutes) wherever a test asserts that something is refused, so a stalled machine cannot refill a budget
// mid-test; the one refill test waits for the retry time the store itself gave.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy, type RateLimitStore } from '../../src/ratelimit/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function rateLimitStoreContract(name: string, makeStore: () => RateLimitStore): void {
  let n = 0;
  const partition = () => `${name}-${++n}-${process.pid}`;
  // 5 per hour: one unit every 720 s.
  const hourly = compilePolicy({ name: 'hourly', quota: 5, windowS: 3600 });
  const HOURLY_US = 720e6;

  test(`${name}: a quiet client spends its burst at once, then is refused with the time until one unit frees`, async () => {
    const store = makeStore();
    const p = partition();
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const v = await store.spend(p, [hourly], 1);
      assert.equal(v.allowed, true, `request ${i + 1} of the burst`);
      assert.equal(v.violated, -1);
      remaining.push(v.remaining[0]);
    }
    assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
    const refused = await store.spend(p, [hourly], 1);
    assert.deepEqual([refused.allowed, refused.violated, refused.remaining], [false, 0, [0]]);
    assert.ok(refused.retryUs > HOURLY_US - 60e6 && refused.retryUs <= HOURLY_US, `retry ${refused.retryUs} µs is about one interval`);
    assert.ok(refused.resetUs[0] > 4 * HOURLY_US && refused.resetUs[0] <= 5 * HOURLY_US, `reset ${refused.resetUs[0]} µs is about the whole burst`);
    assert.ok(Math.abs(refused.at - Date.now()) < 60_000, 'the decision time is on the wall clock');
  });

  test(`${name}: a refused check spends from no policy; the policy that frees last is the one named`, async () => {
    const store = makeStore();
    const p = partition();
    const tight = compilePolicy({ name: 'tight', quota: 2, windowS: 3600 });
    const loose = compilePolicy({ name: 'loose', quota: 100, windowS: 3600, burst: 10 });
    assert.equal((await store.spend(p, [loose, tight], 2)).allowed, true);
    for (let i = 0; i < 3; i++) {
      const v = await store.spend(p, [loose, tight], 1);
      assert.deepEqual([v.allowed, v.violated], [false, 1]);
      assert.deepEqual(v.remaining, [8, 0], 'the refused requests spent nothing from `loose`');
    }
    // Both would refuse: the one whose room comes back last is named, and the retry is its wait.
    const both = await store.spend(p, [loose, tight], 9);
    assert.equal(both.violated, 1);
    assert.ok(both.retryUs > 3600e6 && both.retryUs <= 9 * 1800e6, `waits for tight (${both.retryUs} µs)`);
  });

  test(`${name}: cost spends that many units; cost 0 only looks`, async () => {
    const store = makeStore();
    const p = partition();
    assert.deepEqual((await store.spend(p, [hourly], 3)).remaining, [2]);
    assert.deepEqual((await store.spend(p, [hourly], 0)).remaining, [2]);
    const over = await store.spend(p, [hourly], 3);
    assert.deepEqual([over.allowed, over.remaining], [false, [2]]);
    assert.deepEqual((await store.spend(p, [hourly], 2)).remaining, [0]);
    const look = await store.spend(p, [hourly], 0);
    assert.deepEqual([look.allowed, look.remaining], [true, [0]]);
  });

  test(`${name}: partitions and policy names are separate budgets`, async () => {
    const store = makeStore();
    const [a, b] = [partition(), partition()];
    const other = compilePolicy({ name: 'other', quota: 5, windowS: 3600 });
    assert.deepEqual((await store.spend(a, [hourly], 5)).remaining, [0]);
    assert.equal((await store.spend(a, [hourly], 1)).allowed, false);
    assert.deepEqual((await store.spend(b, [hourly], 1)).remaining, [4]);
    assert.deepEqual((await store.spend(a, [other], 1)).remaining, [4]);
  });

  test(`${name}: a refused client conforms again once the retry time it was given has passed`, async () => {
    const store = makeStore();
    const p = partition();
    // One unit every 100 ms, no burst beyond one.
    const fast = compilePolicy({ name: 'fast', quota: 10, windowS: 1, burst: 1 });
    assert.equal((await store.spend(p, [fast], 1)).allowed, true);
    let refused = await store.spend(p, [fast], 1);
    // A stalled machine may have let the interval pass already; then the next one is spent and refused.
    if (refused.allowed) refused = await store.spend(p, [fast], 1);
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryUs > 0 && refused.retryUs <= 100_000, `retry ${refused.retryUs} µs`);
    await sleep(Math.ceil(refused.retryUs / 1000) + 5);
    assert.equal((await store.spend(p, [fast], 1)).allowed, true);
  });
}
