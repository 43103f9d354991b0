// The one suite every cache store passes (the Redis store and the in-memory LRU).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CacheStore, EntryRef } from '../../src/cache/index.ts';

/** An entry value as entry.ts lays it out: freshness deadline first, then anything (binary included). */
export const entryValue = (freshUntil: number, body: string | Buffer = 'body'): Buffer =>
  Buffer.concat([Buffer.from(`${freshUntil}\n{"e":"\\"x\\""}\n`), Buffer.isBuffer(body) ? body : Buffer.from(body)]);

/**
 * Time as a store sees it: `now` is what the cache would pass; `elapse` lets it go by. For the Redis store that is
 * real time (Redis expires keys and locks itself); the in-memory store judges only by the `now` it is given.
 */
export interface StoreTime {
  now(): number;
  elapse(ms: number): Promise<void>;
}

export function storeContract(name: string, makeStore: () => CacheStore, time: StoreTime): void {
  let n = 0;
  const fresh = (): { store: CacheStore; ref: EntryRef; ns: string } => {
    const ns = `ns-${name}-${++n}`;
    return { store: makeStore(), ref: { namespace: ns, id: 'k1' }, ns };
  };
  const fill = async (store: CacheStore, ref: EntryRef, tags: string[] = [], body: string | Buffer = 'body', ttlMs = 60_000) => {
    const now = time.now();
    const claim = await store.claim(ref, `t-${ref.id}`, 5000, now, tags);
    assert.equal(claim.locked, true);
    return store.put(ref, { value: entryValue(now + ttlMs, body), lifetimeMs: ttlMs, epoch: claim.epoch, token: `t-${ref.id}`, tags, now });
  };

  test(`${name}: a claimed fill stores bytes that come back unchanged, binary included`, async () => {
    const { store, ref } = fresh();
    assert.equal(await store.get(ref, time.now()), null);
    const body = Buffer.from([0, 255, 10, 13, 0xc3, 0x28, 1]);
    assert.equal(await fill(store, ref, [], body), true);
    const got = await store.get(ref, time.now());
    assert.ok(got !== null);
    assert.deepEqual(got.subarray(got.length - body.length), body);
  });

  test(`${name}: one filler holds the lock; others see the fresh entry once it is stored`, async () => {
    const { store, ref } = fresh();
    const now = time.now();
    const first = await store.claim(ref, 'a', 5000, now, []);
    const second = await store.claim(ref, 'b', 5000, now, []);
    assert.deepEqual([first.locked, second.locked, second.entry], [true, false, null]);
    assert.equal(await store.put(ref, { value: entryValue(now + 60_000), lifetimeMs: 60_000, epoch: first.epoch, token: 'a', tags: [], now }), true);
    const third = await store.claim(ref, 'c', 5000, time.now(), []);
    assert.equal(third.locked, false);
    assert.ok(third.entry !== null && third.entry.toString().endsWith('body'));
  });

  test(`${name}: a stale entry does not stop a claim; a lock frees on release and on expiry`, async () => {
    const { store, ref } = fresh();
    const now = time.now();
    const c = await store.claim(ref, 'a', 5000, now, []);
    await store.put(ref, { value: entryValue(now - 1), lifetimeMs: 60_000, epoch: c.epoch, token: 'a', tags: [], now });
    const stale = await store.claim(ref, 'b', 100, time.now(), []);
    assert.deepEqual([stale.locked, stale.entry], [true, null]);
    assert.equal((await store.claim(ref, 'c', 100, time.now(), [])).locked, false);
    await store.release(ref, 'b');
    assert.equal((await store.claim(ref, 'c', 100, time.now(), [])).locked, true);
    await time.elapse(150);
    assert.equal((await store.claim(ref, 'd', 100, time.now(), [])).locked, true, 'an expired lock is taken over');
  });

  test(`${name}: a fill that began before an invalidation does not store`, async () => {
    const { store, ref, ns } = fresh();
    const now = time.now();
    const claim = await store.claim(ref, 'a', 5000, now, ['items']);
    await store.invalidate({ tags: ['items'] });
    assert.equal(await store.put(ref, { value: entryValue(now + 60_000), lifetimeMs: 60_000, epoch: claim.epoch, token: 'a', tags: ['items'], now }), false);
    assert.equal(await store.get(ref, time.now()), null);
    const again = await store.claim(ref, 'b', 5000, time.now(), ['items']);
    assert.equal(again.locked, true, 'the failed fill released its lock');
    await store.invalidate({ namespace: ns });
    assert.equal(await store.put(ref, { value: entryValue(now + 60_000), lifetimeMs: 60_000, epoch: again.epoch, token: 'b', tags: ['items'], now }), false);
  });

  test(`${name}: tag invalidation deletes the tagged entries in every namespace, and only them`, async () => {
    const { store, ns } = fresh();
    const other = `${ns}-other`;
    const a = { namespace: ns, id: 'a' }, b = { namespace: ns, id: 'b' }, c = { namespace: other, id: 'c' }, d = { namespace: other, id: 'd' };
    await fill(store, a, ['items']);
    await fill(store, b, ['users']);
    await fill(store, c, ['items', 'users']);
    await fill(store, d, []);
    assert.equal(await store.invalidate({ tags: ['items'] }), 2);
    assert.deepEqual(await Promise.all([a, b, c, d].map(async (r) => (await store.get(r, time.now())) !== null)), [false, true, false, true]);
    await fill(store, a, ['items']);
    await fill(store, c, ['items']);
    assert.equal(await store.invalidate({ tags: ['items'], namespace: other }), 1);
    assert.deepEqual(await Promise.all([a, c].map(async (r) => (await store.get(r, time.now())) !== null)), [true, false]);
  });

  test(`${name}: a namespace clear deletes that namespace's entries and leaves the others`, async () => {
    const { store, ns } = fresh();
    const other = `${ns}-other`;
    const refs = [{ namespace: ns, id: 'a' }, { namespace: ns, id: 'b' }, { namespace: other, id: 'a' }];
    for (const r of refs) await fill(store, r);
    assert.equal(await store.invalidate({ namespace: ns }), 2);
    assert.deepEqual(await Promise.all(refs.map(async (r) => (await store.get(r, time.now())) !== null)), [false, false, true]);
  });

  test(`${name}: an entry disappears at the end of its lifetime`, async () => {
    const { store, ref } = fresh();
    await fill(store, ref, [], 'x', 80);
    assert.notEqual(await store.get(ref, time.now()), null);
    await time.elapse(150);
    assert.equal(await store.get(ref, time.now()), null);
  });
}
