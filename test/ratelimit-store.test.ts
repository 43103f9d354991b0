import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compilePolicy, memoryRateLimitStore, redisRateLimitStore } from '../src/ratelimit/index.ts';
import { closeRedis, type Redis } from '../src/redis/index.ts';
import { rateLimitStoreContract } from './support/ratelimit-store-contract.ts';
import { connectedClient, startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let client: Redis;

before(async () => {
  server = await startTestRedis();
  client = await connectedClient(server);
});
after(async () => {
  await closeRedis(client);
  await server.stop();
});

rateLimitStoreContract('memory', () => memoryRateLimitStore());
rateLimitStoreContract('redis', () => redisRateLimitStore(client, 'test:'));

test('redis: the keys of one check share the partition\'s slot and live only until the budget is whole again', async () => {
  const store = redisRateLimitStore(client, 'slot:');
  const policies = [compilePolicy({ name: 'burst', quota: 10, windowS: 1 }), compilePolicy({ name: 'daily', quota: 1000, windowS: 86_400 })];
  const verdict = await store.spend('ip:{evil}:1', policies, 1);
  const keys = (await client.keys('slot:rl:*')).sort();
  assert.deepEqual(keys, ['slot:rl:{ip:(evil):1}:burst', 'slot:rl:{ip:(evil):1}:daily']);
  for (const [i, key] of keys.entries()) {
    const ttl = await client.pTTL(key);
    assert.ok(ttl > 0 && ttl <= Math.ceil(verdict.resetUs[i] / 1000), `${key} expires with its reset (${ttl} ms)`);
  }
  const long = 'k:' + 'x'.repeat(300);
  await store.spend(long, policies, 1);
  assert.ok((await client.keys('slot:rl:{????????????????????????????????????????????????????????????????}:*')).length === 2, 'a long partition is hashed');
});

test('memory: past maxKeys, lapsed keys go first, then the least recently spent', async () => {
  let now = 1e15;
  const store = memoryRateLimitStore({ maxKeys: 2, nowUs: () => now });
  const p = compilePolicy({ name: 'p', quota: 1, windowS: 1 });
  await store.spend('a', [p], 1);
  await store.spend('b', [p], 1);
  await store.spend('c', [p], 1); // a goes
  assert.equal((await store.spend('a', [p], 1)).allowed, true, 'a was evicted (forgotten)');
  assert.equal((await store.spend('c', [p], 1)).allowed, false, 'c is still held');
  now += 2e6; // every TAT lapsed
  assert.equal((await store.spend('b', [p], 1)).allowed, true);
});
