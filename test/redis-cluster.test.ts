// The example app, its cache, idempotency, exports and the queue on a live 3-master / 3-replica Redis Cluster
// started by the harness: every Lua script runs there (checked with SCRIPT EXISTS on the masters), so a key in the
// wrong slot would fail here as CROSSSLOT; scripts reload per node after SCRIPT FLUSH (NOSCRIPT → EVAL); job
// events reach SSE through cluster pub/sub; the start-up eviction check reads every master.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createExportStore } from '../src/app/export-store.ts';
import { itemKeys } from '../src/app/keys.ts';
import { namespaceKeys } from '../src/cache/keys.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { queueKeys } from '../src/queue/keys.ts';
import { SCRIPTS } from '../src/queue/scripts.ts';
import { compilePolicy } from '../src/ratelimit/policy.ts';
import { redisRateLimitStore } from '../src/ratelimit/redis-store.ts';
import { checkEvictionPolicy, closeRedis, createRedis, guardedSource, RedisEvictionError, type Redis } from '../src/redis/index.ts';
import { QueueOperator, type Queue } from '../src/queue/index.ts';
import type { TestClient } from '../src/testing/index.ts';
import { startJobApps, type JobApps } from './support/job-apps.ts';
import { jobEnd as jobEndAs, until } from './support/queue.ts';
import { echo, flaky, nap, progress } from './support/queue-jobs.ts';
import { startTestCluster, type TestCluster } from './support/redis-cluster.ts';
import { keySlot } from './support/redis-slot.ts';

let cluster: TestCluster;
let redis: Redis;
let apps: JobApps;
let app: TestClient;
let jobsApp: TestClient;
let testQueue: Queue;
const KEY = { 'x-api-key': 'test-key' };
const log = createLogger('silent');

before(async () => {
  cluster = await startTestCluster();
  const config = loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes, API_KEYS: 'test-key', REDIS_COMMAND_TIMEOUT_MS: '2000' });
  redis = createRedis({ url: '', topology: config.redisTopology, commandTimeoutMs: 2000, log });
  await until(() => redis.isReady, 10_000, 'the cluster client ready');
  // A short lease: heartbeats, stalled-job checks and consumer retirement run within the test.
  apps = await startJobApps(redis, config, { leaseMs: 600 });
  ({ app, jobsApp, testQueue } = apps);
});
after(async () => {
  await apps.stop();
  await closeRedis(redis);
  await cluster.stop();
});

const jobEnd = (client: TestClient, id: string) => jobEndAs(client, id, KEY);

test('the harness cluster has 3 masters, and CLUSTER KEYSLOT agrees with the slot function of the single-slot proof', async () => {
  assert.equal((await cluster.onMasters(['PING'])).length, 3);
  const keys = [itemKeys('skiff:').all, namespaceKeys('skiff:', 'users').epoch, queueKeys('skiff:', 'emails').stream, 'no-tag', 'a{}b'];
  for (const key of keys) assert.equal(await redis.clusterKeySlot(key), keySlot(key), key);
  const slots = new Set([itemKeys('skiff:').all, queueKeys('qt:', 'default').stream, namespaceKeys('skiff:', 'items').epoch].map(keySlot));
  assert.ok(slots.size > 1, 'the app, the queue and the cache live in different slots');
});

test('items, cached reads, invalidation and Idempotency-Key work on the cluster', async () => {
  const headers = { ...KEY, 'idempotency-key': 'lamp-1' };
  const created = await app.post('/v1/items', { name: 'Lamp', price: 12.5, tags: ['home', 'light'] }, { headers });
  assert.equal(created.status, 201);
  const again = await app.post('/v1/items', { name: 'Lamp', price: 12.5, tags: ['home', 'light'] }, { headers });
  assert.equal(again.json().id, created.json().id, 'the stored response');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const id = created.json().id as string;
  assert.equal((await app.get(`/v1/items/${id}`)).json().price, 12.5);
  assert.equal((await app.get(`/v1/items/${id}`)).json().price, 12.5, 'a cached read');
  assert.equal((await app.get('/v1/items/00000000000000000000')).status, 404);
  assert.equal((await app.request('PATCH', `/v1/items/${id}`, { headers: KEY, body: { price: 10, tags: ['sale'] } })).status, 200);
  assert.equal((await app.get(`/v1/items/${id}`)).json().price, 10, 'the write invalidated the cached read');
  assert.deepEqual((await app.get('/v1/items?tag=sale')).json().items.map((i: { id: string }) => i.id), [id]);
  assert.deepEqual((await app.get('/v1/items?tag=light')).json().items, []);
  assert.equal((await app.request('DELETE', `/v1/items/${id}`, { headers: KEY })).status, 204);
  assert.equal((await app.get(`/v1/items/${id}`)).status, 404);
});

test('an export job writes, counts and serves its file on the cluster', async () => {
  for (const name of ['Desk', 'Pen']) assert.equal((await app.post('/v1/items', { name, price: 1, tags: ['office'] }, { headers: KEY })).status, 201);
  const created = await app.post('/v1/exports', { format: 'ndjson', tag: 'office' }, { headers: KEY });
  assert.equal(created.status, 202);
  const job = await jobEnd(app, created.json().id);
  assert.equal(job.status, 'complete');
  const file = await app.get(`/v1/exports/${created.json().id}/file`, { headers: KEY });
  assert.deepEqual(file.text.trim().split('\n').map((l) => JSON.parse(l).name).sort(), ['Desk', 'Pen']);
});

test('jobs run, retry, report progress over SSE, abort, die and replay on the cluster', async () => {
  const done = await testQueue.enqueue(echo, { value: 'x' });
  assert.deepEqual((await jobEnd(jobsApp, done.id)).result, { value: 'x' });
  assert.equal((await jobEnd(jobsApp, (await testQueue.enqueue(flaky, { failures: 1 })).id)).status, 'complete', 'retried through the delayed set');

  const followed = await testQueue.enqueue(progress, { steps: 3, delayMs: 30 });
  const events = await (await fetch(`${jobsApp.url}/v1/jobs/${followed.id}/events`)).text();
  assert.match(events, /event: progress/);
  assert.match(events, /"status":"complete"/);

  const running = await testQueue.enqueue(nap, { ms: 60_000 });
  await until(async () => (await testQueue.getJob(running.id))?.status === 'in_progress');
  assert.equal((await jobsApp.request('DELETE', `/v1/jobs/${running.id}`)).status, 202);
  assert.equal((await jobEnd(jobsApp, running.id)).status, 'aborted');

  const dead = await testQueue.enqueue(flaky, { failures: 5 });
  assert.equal((await jobEnd(jobsApp, dead.id)).status, 'failed');
  assert.equal(await testQueue.replayDead(), 1);

  // The first process records the queue's partition count; the next finds it.
  await testQueue.checkPartitions();
  await testQueue.checkPartitions();
  assert.equal(await redis.get(testQueue.keys.partitionCount), '1');
});

test('an export refused by its quota releases the Idempotency-Key; a released reservation stops counting', async () => {
  // The principal an API key acts as (src/app/auth.ts): the first 12 hex chars of its SHA-256.
  const principal = createHash('sha256').update('test-key').digest('hex').slice(0, 12);
  const files = createExportStore(redis, 'skiff:', 2000);
  const held = { principal, reservation: 'held-by-test' };
  const cap = loadConfig({}).exportMaxStoredBytes;
  // Reserved past any cap the app allows, whatever earlier exports hold.
  assert.equal((await files.reserve(held, cap, Date.now() + 60_000, 2 * cap)).granted, true);
  const headers = { ...KEY, 'idempotency-key': 'capped-1' };
  const refused = await app.post('/v1/exports', { format: 'csv' }, { headers });
  assert.equal(refused.status, 429);
  const retried = await app.post('/v1/exports', { format: 'csv' }, { headers });
  assert.equal(retried.status, 429);
  assert.equal(retried.headers.get('idempotent-replayed'), null, 'the key was released, so the retry ran again');
  await files.release(held);
  const accepted = await app.post('/v1/exports', { format: 'csv' }, { headers });
  assert.equal(accepted.status, 202, 'the released reservation no longer counts');
  assert.equal((await jobEnd(app, accepted.json().id)).status, 'complete');
});

test('the operator lists, retries, promotes and deletes jobs on the cluster', async () => {
  const operator = new QueueOperator(testQueue);
  const failed = await testQueue.enqueue(flaky, { failures: 5 });
  assert.equal((await jobEnd(jobsApp, failed.id)).status, 'failed');
  assert.ok((await operator.list('failed')).jobs.some((j) => j.id === failed.id));
  assert.equal((await operator.retry([failed.id])).retried, 1);
  const later = await testQueue.enqueue(echo, { value: 'later' }, { delayMs: 60_000 });
  assert.equal(await operator.promote(later.id), 1);
  assert.equal((await jobEnd(jobsApp, later.id)).status, 'complete');
  const dropped = await testQueue.enqueue(echo, { value: 'dropped' }, { delayMs: 60_000 });
  assert.equal((await operator.delete([dropped.id])).deleted, 1);
  assert.equal(await testQueue.getJob(dropped.id), null);
});

test('rate limits spend one budget per key and policy on the cluster', async () => {
  const store = redisRateLimitStore(redis, 'skiff:');
  const policies = [compilePolicy({ name: 'burst', quota: 2, windowS: 60 }), compilePolicy({ name: 'daily', quota: 100, windowS: 86_400 })];
  const verdicts = [];
  for (let i = 0; i < 3; i++) verdicts.push(await store.spend('alice', policies, 1));
  assert.deepEqual(verdicts.map((v) => v.allowed), [true, true, false], 'the third spend of a quota of 2 is refused');
  assert.equal(verdicts[2]!.violated, 0);
  assert.deepEqual(verdicts[1]!.remaining, [0, 98]);
});

/** Every script file's hashes, plain, guarded, or with its library: one of them is what its caller runs. */
function scriptHashes(): Map<string, string[]> {
  const sha = (s: string) => createHash('sha1').update(s).digest('hex');
  const hashes = new Map<string, string[]>();
  const subsystems = readdirSync(new URL('../src/', import.meta.url), { withFileTypes: true }).filter((d) => d.isDirectory());
  for (const dir of subsystems.map((d) => d.name).filter((d) => existsSync(new URL(`../src/${d}/lua/`, import.meta.url)))) {
    const lua = new URL(`../src/${dir}/lua/`, import.meta.url);
    for (const file of readdirSync(lua).filter((f) => f.endsWith('.lua'))) {
      const source = readFileSync(new URL(file, lua), 'utf8');
      hashes.set(`${dir}/${file}`, [sha(source), sha(guardedSource(source))]);
    }
  }
  // The queue's scripts carry a shared library before their own lines (src/queue/scripts.ts).
  for (const script of Object.values(SCRIPTS)) hashes.get(`queue/${script.name}`)!.push(script.sha);
  return hashes;
}

test('every Lua script ran on a cluster master', async () => {
  const loaded = new Set<string>();
  for (const [file, shas] of scriptHashes()) {
    const replies = (await cluster.onMasters(['SCRIPT', 'EXISTS', ...shas])) as number[][];
    if (replies.some((r) => r.includes(1))) loaded.add(file);
  }
  const missing = [...scriptHashes().keys()].filter((f) => !loaded.has(f));
  assert.deepEqual(missing, [], 'scripts this suite never ran on the cluster');
});

test('after SCRIPT FLUSH on every master, scripts load again on the node owning their keys (NOSCRIPT → EVAL)', async () => {
  await cluster.onMasters(['SCRIPT', 'FLUSH']);
  const created = await app.post('/v1/items', { name: 'Again', price: 2, tags: [] }, { headers: KEY });
  assert.equal(created.status, 201);
  assert.deepEqual((await jobEnd(jobsApp, (await testQueue.enqueue(echo, { value: 'y' })).id)).result, { value: 'y' });
});

test('the eviction check reads INFO memory on every master: noeviction passes, another policy warns or refuses', async () => {
  const warnings: string[] = [];
  const recorder = { ...log, warn: (msg: string) => void warnings.push(msg) } as typeof log;
  await checkEvictionPolicy(redis, { require: true, log: recorder, timeoutMs: 2000 });
  assert.deepEqual(warnings, []);
  const masters = await cluster.onMasters(['PING']);
  assert.equal(masters.length, 3);
  await cluster.onMasters(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
  try {
    await assert.rejects(checkEvictionPolicy(redis, { require: true, log: recorder, timeoutMs: 2000 }), RedisEvictionError);
    await checkEvictionPolicy(redis, { require: false, log: recorder, timeoutMs: 2000 });
    assert.match(warnings.join('\n'), /allkeys-lru/);
  } finally {
    await cluster.onMasters(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
  }
});
