// Choosing a Redis topology from the environment, and how a command is routed on a cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { ensureRedis } from '../src/redis/index.ts';
import { evictionPolicy } from '../src/redis/eviction.ts';
import { parseNode, routingKey } from '../src/redis/topology.ts';

test('REDIS_CLUSTER_NODES and REDIS_SENTINELS choose a topology, with credentials and TLS for its nodes', () => {
  assert.equal(loadConfig({}).redisTopology, undefined);
  assert.deepEqual(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }).redisTopology,
    { kind: 'cluster', nodes: ['a:7000', 'b:7001'], username: undefined, password: 'pw', ca: undefined, tls: true });
  const sentinel = loadConfig({ REDIS_SENTINELS: '[::1]:26379,s2:26379', REDIS_SENTINEL_MASTER: 'main' }).redisTopology;
  assert.deepEqual(sentinel && sentinel.kind === 'sentinel' && [sentinel.sentinels, sentinel.master, sentinel.tls], [['[::1]:26379', 's2:26379'], 'main', false]);
  assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2' }), ConfigError);
  assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'a' }), /not host:port/);
  assert.deepEqual(parseNode('[::1]:26379'), { host: '::1', port: 26379 });
  assert.deepEqual(parseNode('redis-1.internal:6380'), { host: 'redis-1.internal', port: 6380 });
});

test('a raw command is routed by its first key: the first key of a script, the stream of a read, the key after a subcommand', () => {
  assert.equal(routingKey(['EVALSHA', 'abc', '2', 'k1', 'k2', 'arg']), 'k1');
  assert.equal(routingKey(['EVAL', 'return 1', '0', 'arg']), undefined, 'a keyless script goes to any node');
  assert.equal(routingKey(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '5', 'BLOCK', '100', 'STREAMS', 's', '>']), 's');
  assert.equal(routingKey(['XGROUP', 'CREATE', 's', 'g', '0', 'MKSTREAM']), 's');
  assert.equal(routingKey(['XINFO', 'GROUPS', 's']), 's');
  assert.equal(routingKey(['GETRANGE', 'f', '0', '9']), 'f');
});

test('the eviction policy is read from INFO memory', () => {
  assert.equal(evictionPolicy('# Memory\r\nused_memory:1\r\nmaxmemory_policy:allkeys-lru\r\nx:1\r\n'), 'allkeys-lru');
  assert.equal(evictionPolicy('# Memory\r\nused_memory:1\r\n'), undefined);
});

test('with a cluster or Sentinels configured, start-up neither probes for nor starts a Redis', async () => {
  const topology = loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:1' }).redisTopology;
  const ensured = await ensureRedis(undefined, '/nonexistent/skiff-redis', createLogger('silent'), { topology, bin: 'redis-server-not-installed' });
  assert.equal(ensured.url, '', 'no URL to hand workers');
});
