import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { memoryCacheStore, redisCacheStore, type CacheStore } from '../src/cache/index.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClock } from './support/clock.ts';
import { entryValue, storeContract } from './support/cache-store-contract.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let client: Redis;

before(async () => {
  server = await startTestRedis();
  client = createRedis({ url: server.url, commandTimeoutMs: 1000, log: createLogger('silent') });
  while (!(await pingRedis(client, 200))) await new Promise((r) => setTimeout(r, 10));
});
after(async () => {
  await closeRedis(client);
  await server.stop();
});

const memoryTime = testClock();
storeContract('memory', () => memoryCacheStore({ maxEntries: 1000, maxBytes: 1 << 20 }), { now: memoryTime.now, elapse: async (ms) => memoryTime.elapse(ms) });
storeContract('redis', () => redisCacheStore(client, 'test:'), { now: Date.now, elapse: (ms) => new Promise((r) => setTimeout(r, ms)) });

const put = async (store: CacheStore, id: string, bytes: number) => {
  const ref = { namespace: 'lru', id };
  const now = Date.now();
  const claim = await store.claim(ref, id, 1000, now, []);
  return store.put(ref, { value: entryValue(now + 60_000, Buffer.alloc(bytes)), lifetimeMs: 60_000, epoch: claim.epoch, token: id, tags: [], now });
};
const present = async (store: CacheStore, ids: string[]) => Promise.all(ids.map(async (id) => (await store.get({ namespace: 'lru', id }, Date.now())) !== null));

test('memory: the least recently used entry goes first when the entry bound is reached', async () => {
  const store = memoryCacheStore({ maxEntries: 2, maxBytes: 1 << 20 });
  await put(store, 'a', 10);
  await put(store, 'b', 10);
  await store.get({ namespace: 'lru', id: 'a' }, Date.now());
  await put(store, 'c', 10);
  assert.deepEqual(await present(store, ['a', 'b', 'c']), [true, false, true]);
});

test('memory: the byte bound evicts old entries and refuses one entry larger than the whole bound', async () => {
  const store = memoryCacheStore({ maxEntries: 100, maxBytes: 300 });
  await put(store, 'a', 100);
  await put(store, 'b', 100);
  await put(store, 'c', 100);
  assert.deepEqual(await present(store, ['a', 'b', 'c']), [false, true, true]);
  assert.equal(await put(store, 'huge', 1000), false);
  assert.deepEqual(await present(store, ['b', 'c', 'huge']), [true, true, false]);
});

test('redis: invalidation indexes expire with their entries and every cache key shares its namespace slot', async () => {
  const store = redisCacheStore(client, 'slot:');
  const ref = { namespace: '/v1/items/{id}', id: 'k' };
  const now = Date.now();
  const claim = await store.claim(ref, 't', 1000, now, ['items']);
  await store.put(ref, { value: entryValue(now + 1000), lifetimeMs: 5000, epoch: claim.epoch, token: 't', tags: ['items'], now });
  const keys = (await client.keys('slot:cache:{*')).sort();
  assert.ok(keys.length >= 3);
  for (const key of keys) assert.ok(key.startsWith('slot:cache:{/v1/items/(id)}:'), key);
  for (const key of keys.filter((k) => !k.endsWith(':epoch'))) {
    const ttl = await client.pTTL(key);
    assert.ok(ttl > 0 && ttl <= 5000, `${key} expires (${ttl})`);
  }
});
