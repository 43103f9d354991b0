// skiff's Redis face through Sentinels started by the harness (master + replica + 3 Sentinels): it finds the
// master by name, runs commands and scripts there, and after the master is killed, writes resume on the
// promoted replica without a new client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createItemStore } from '../src/app/item-store.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { until } from './support/queue.ts';
import { SENTINEL_MASTER, startTestSentinels, writesResume, type TestSentinels } from './support/redis-sentinel.ts';

let sentinels: TestSentinels;
let redis: Redis;

before(async () => {
  sentinels = await startTestSentinels();
  const config = loadConfig({ REDIS_SENTINELS: sentinels.sentinels, REDIS_SENTINEL_MASTER: SENTINEL_MASTER });
  redis = createRedis({ url: '', topology: config.redisTopology, commandTimeoutMs: 1000, log: createLogger('silent') });
  await until(() => redis.isReady, 10_000, 'the Sentinel client ready');
});
after(async () => {
  await closeRedis(redis);
  await sentinels.stop();
});

test('commands and scripts reach the master the Sentinels name; after it is killed, writes resume on the promoted replica', async () => {
  const items = createItemStore(redis, 'skiff:', 1000);
  const lamp = await items.create({ name: 'Lamp', price: 1, tags: ['home'] });
  assert.deepEqual((await items.list({ tag: 'home', limit: 10 })).items.map((i) => i.id), [lamp.id], 'scripts run on the master');
  await redis.set('before', 'written');
  assert.equal(await redis.get('before'), 'written');
  assert.equal(String(await redis.sendCommand(['ROLE']).then((r) => (r as unknown as unknown[])[0])), 'master', 'sendCommand keeps the single client signature');
  assert.equal(await redis.wait(1, 2000), 1, 'the replica has what was written');

  await sentinels.killMaster();
  await writesResume(redis, 'after');
  assert.equal(await sentinels.currentMaster(), sentinels.replicaPort, 'the replica was promoted');
  assert.equal(await redis.get('before'), 'written', 'what was acknowledged by the replica survived');
  assert.equal(await redis.get('after'), 'written');
  assert.equal((await items.get(lamp.id))?.name, 'Lamp');
  assert.ok(await items.delete(lamp.id), 'scripts run on the new master');
});
