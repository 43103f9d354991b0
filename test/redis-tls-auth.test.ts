// TLS and authentication to Redis on live servers the test starts: a single Redis over TLS (rediss://, the CA of
// REDIS_TLS_CA_FILE), ACL users and passwords (REDIS_USERNAME / REDIS_PASSWORD, or the URL's own), Sentinels and
// their master over TLS with a password through a failover, and every node of a cluster as an ACL user.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createItemStore } from '../src/app/item-store.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, freePort, startRedisServer, type Redis } from '../src/redis/index.ts';
import { until } from './support/queue.ts';
import { redisCommand as call } from './support/redis.ts';
import { startTestCluster } from './support/redis-cluster.ts';
import { SENTINEL_MASTER, startTestSentinels, writesResume } from './support/redis-sentinel.ts';
import { makeTestTls, type TestTls } from './support/redis-tls.ts';

let dir: string;
let tls: TestTls;
const log = createLogger('silent');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-test-tls-'));
  tls = await makeTestTls(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A client as the API makes one from these settings, and the errors it reports. */
function clientFor(env: Record<string, string>): { redis: Redis; errors: string[] } {
  const config = loadConfig(env);
  const redis = createRedis({ url: config.redisUrl ?? '', topology: config.redisTopology, access: config.redisAccess, commandTimeoutMs: 2000, log });
  const errors: string[] = [];
  redis.on('error', (err: Error) => errors.push(err.message));
  return { redis, errors };
}

async function singleServer(name: string, extraArgs: (tlsPort: number) => string[] = () => []) {
  const tlsPort = await freePort();
  const server = await startRedisServer({ dir: join(dir, name), appendonly: false, extraArgs: extraArgs(tlsPort) });
  return { server, tlsPort };
}

test('a single Redis over TLS: rediss:// with REDIS_TLS_CA_FILE connects; without that CA the certificate is refused; an unreadable CA file stops the start-up', async (t) => {
  const { server, tlsPort } = await singleServer('tls', (port) => tls.serverArgs(port));
  t.after(() => server.stop());
  const url = `rediss://127.0.0.1:${tlsPort}`;
  const trusted = clientFor({ REDIS_URL: url, REDIS_TLS_CA_FILE: tls.caFile });
  const untrusted = clientFor({ REDIS_URL: url });
  t.after(() => Promise.all([closeRedis(trusted.redis), closeRedis(untrusted.redis)]));
  await until(() => trusted.redis.isReady, 10_000, 'the TLS client ready');
  await trusted.redis.set('over-tls', 'yes');
  assert.equal(await trusted.redis.get('over-tls'), 'yes');
  await until(() => untrusted.errors.length > 0, 10_000, 'the untrusted client refused');
  assert.match(untrusted.errors[0]!, /self-signed certificate/);
  assert.equal(untrusted.redis.isReady, false);
  assert.throws(() => loadConfig({ REDIS_URL: url, REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }), (err: unknown) => err instanceof ConfigError && /REDIS_TLS_CA_FILE: cannot read/.test(err.message));
  assert.throws(() => loadConfig({ REDIS_URL: url, REDIS_TLS_CA_FILE: join(dir, 'server.ext') }), /holds no PEM certificate/);
});

test('auth on a single Redis: REDIS_USERNAME / REDIS_PASSWORD when REDIS_URL names none, the URL\'s own user when it does; a wrong password never connects', async (t) => {
  const { server } = await singleServer('auth');
  t.after(() => server.stop());
  await call(server.port, ['ACL', 'SETUSER', 'app', 'on', '>app-secret', '~*', '&*', '+@all']);
  await call(server.port, ['ACL', 'SETUSER', 'ops', 'on', '>ops-secret', '~*', '&*', '+@all']);
  await call(server.port, ['CONFIG', 'SET', 'requirepass', 'default-secret']);
  const url = `redis://127.0.0.1:${server.port}`;
  const cases: { env: Record<string, string>; user: string }[] = [
    { env: { REDIS_URL: url, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-secret' }, user: 'app' },
    { env: { REDIS_URL: `redis://ops:ops-secret@127.0.0.1:${server.port}`, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-secret' }, user: 'ops' },
    { env: { REDIS_URL: url, REDIS_PASSWORD: 'default-secret' }, user: 'default' },
  ];
  for (const { env, user } of cases) {
    const { redis } = clientFor(env);
    t.after(() => closeRedis(redis));
    await until(() => redis.isReady, 10_000, `${user} ready`);
    assert.equal(await redis.sendCommand(['ACL', 'WHOAMI']), user);
  }
  const wrong = clientFor({ REDIS_URL: url, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'wrong' });
  t.after(() => closeRedis(wrong.redis));
  await until(() => wrong.errors.length > 0, 10_000, 'the wrong password refused');
  assert.match(wrong.errors[0]!, /WRONGPASS/);
});

test('Sentinels and their master over TLS with a password: the client finds the master, authenticates, runs scripts, and writes on the promoted replica after a failover', { timeout: 120_000 }, async (t) => {
  const sentinels = await startTestSentinels({ tls, password: 'sentinel-secret' });
  t.after(() => sentinels.stop());
  const env = { REDIS_SENTINELS: sentinels.sentinels, REDIS_SENTINEL_MASTER: SENTINEL_MASTER, REDIS_TLS: 'true', REDIS_TLS_CA_FILE: tls.caFile, REDIS_PASSWORD: 'sentinel-secret' };
  const { redis } = clientFor(env);
  t.after(() => closeRedis(redis));
  await until(() => redis.isReady, 20_000, 'the Sentinel client ready');
  const items = createItemStore(redis, 'tls:', 2000);
  const lamp = await items.create({ name: 'Lamp', price: 1, tags: ['home'] });
  assert.equal(await redis.sendCommand(['ACL', 'WHOAMI']), 'default');
  const { REDIS_TLS_CA_FILE: _trusted, ...withoutCa } = env;
  const untrusted = clientFor(withoutCa);
  t.after(() => closeRedis(untrusted.redis));
  await until(() => untrusted.errors.length > 0, 10_000, 'the untrusted client refused');
  assert.match(untrusted.errors.join('\n'), /self-signed certificate/);

  await sentinels.killMaster();
  await writesResume(redis, 'after', 60_000);
  assert.equal(await sentinels.currentMaster(), sentinels.replicaPort, 'the replica was promoted (its TLS port)');
  assert.equal((await items.get(lamp.id))?.name, 'Lamp');
});

test('a cluster with an ACL user: every master connection authenticates as REDIS_USERNAME; a wrong password never connects', { timeout: 120_000 }, async (t) => {
  const cluster = await startTestCluster();
  t.after(() => cluster.stop());
  // ACL users are per node: every node gets it (a replica promoted later must know it too).
  for (const node of cluster.nodes.split(',')) await call(Number(node.split(':')[1]), ['ACL', 'SETUSER', 'app', 'on', '>app-secret', '~*', '&*', '+@all']);
  const { redis } = clientFor({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-secret' });
  t.after(() => closeRedis(redis));
  await until(() => redis.isReady, 20_000, 'the cluster client ready');
  // Keys spread over every master.
  for (let i = 0; i < 30; i++) await redis.set(`k${i}`, String(i));
  const face = redis as unknown as { masters: unknown[]; nodeClient(node: unknown): Redis | Promise<Redis> };
  assert.equal(face.masters.length, 3);
  for (const master of face.masters) assert.equal(await (await face.nodeClient(master)).sendCommand(['ACL', 'WHOAMI']), 'app');
  assert.equal(await redis.get('k29'), '29');
  const wrong = clientFor({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'wrong' });
  t.after(() => closeRedis(wrong.redis));
  await until(() => wrong.errors.length > 0, 10_000, 'the wrong password refused');
  assert.match(wrong.errors.join('\n'), /WRONGPASS/);
});
