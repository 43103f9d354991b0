// QUEUE_WAIT_REPLICAS on a live master + replica (+ 3 Sentinels), and on a cluster: an enqueue answers only once the replica has the
// job; with the replica stopped (SIGSTOP) WAIT times out, and the enqueue answers 503 OUTCOME_UNKNOWN while the
// job sits on the master; a retry under the same Idempotency-Key then returns that job. Settling waits the same way.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, test } from 'node:test';
import { exampleService } from '../src/app/index.ts';
import { EXPORT_MAX_BYTES } from '../src/app/exports.ts';
import { exportKeys } from '../src/app/keys.ts';
import { loadConfig } from '../src/config.ts';
import { HttpError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { createQueue, queueKeys, startWorker } from '../src/queue/index.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { startApi } from '../src/service/index.ts';
import { standaloneLink } from './support/live-api.ts';
import { until } from './support/queue.ts';
import { echo, TEST_JOBS } from './support/queue-jobs.ts';
import { startTestCluster } from './support/redis-cluster.ts';
import { SENTINEL_MASTER, startTestSentinels, type TestSentinels } from './support/redis-sentinel.ts';

let sentinels: TestSentinels;
let topologyEnv: Record<string, string>;
const clients: Redis[] = [];
const log = createLogger('silent');

async function client(name: string): Promise<Redis> {
  const redis = createRedis({ url: '', topology: loadConfig(topologyEnv).redisTopology, commandTimeoutMs: 1000, log, name });
  clients.push(redis);
  await until(() => redis.isReady, 10_000, `${name} ready`);
  return redis;
}

before(async () => {
  sentinels = await startTestSentinels();
  topologyEnv = { REDIS_SENTINELS: sentinels.sentinels, REDIS_SENTINEL_MASTER: SENTINEL_MASTER };
});
afterEach(async () => {
  sentinels.resumeReplica();
  // The next test starts with the replica caught up again.
  const check = await client('caught-up');
  await until(async () => (await check.wait(1, 200)) === 1, 30_000, 'the replica caught up');
});
after(async () => {
  sentinels.resumeReplica();
  await Promise.all(clients.map((c) => closeRedis(c)));
  await sentinels.stop();
});

test('with replicaAck an enqueue waits for the replica: pending while the stopped replica lacks the job, answered once it has it', async () => {
  const redis = await client('main');
  const writes = await client('enqueue');
  const queue = createQueue({ redis, prefix: 'rw:', jobs: TEST_JOBS, replicaAck: { replicas: 1, timeoutMs: 60_000, redis: writes } });
  sentinels.pauseReplica();
  let answered = false;
  const pending = queue.enqueue(echo, { value: 'waits' }, { id: 'waits' }).finally(() => (answered = true));
  // On the master at once (read on the main connection: the WAIT holds only the enqueue connection).
  await until(async () => (await redis.exists(queue.keys.job('waits'))) === 1, 10_000, 'the job on the master');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(answered, false, 'the enqueue has not answered while the replica lacks the job');
  sentinels.resumeReplica();
  const job = await pending;
  assert.equal(job.created, true);
  assert.equal(job.initialStatus, 'queued');
});

test('a stopped replica makes WAIT time out: enqueue throws 503 OUTCOME_UNKNOWN (no applied) though the master has the job; without replicaAck it answers', async () => {
  const redis = await client('main');
  const acked = createQueue({ redis, prefix: 'rt:', jobs: TEST_JOBS, replicaAck: { replicas: 1, timeoutMs: 300 } });
  const plain = createQueue({ redis, prefix: 'rt:', jobs: TEST_JOBS });
  sentinels.pauseReplica();
  const refused = await acked.enqueue(echo, { value: 'x' }, { id: 'unacked' }).then(() => null, (err: unknown) => err);
  assert.ok(refused instanceof HttpError, String(refused));
  assert.equal(refused.status, 503);
  assert.equal(refused.code, 'OUTCOME_UNKNOWN');
  assert.equal(refused.applied, undefined, 'the job may survive a failover or not: no applied member');
  assert.equal(refused.headers?.['retry-after'], '1');
  assert.match(refused.message, /fewer than 1 replica/);
  assert.equal((await acked.getJob('unacked'))?.status, 'queued', 'the master has the job');
  const answered = await plain.enqueue(echo, { value: 'x' }, { id: 'plain' });
  assert.equal(answered.created, true, 'without replicaAck the same enqueue answers: asynchronous replication');
});

test('POST /v1/exports with QUEUE_WAIT_REPLICAS=1 and the replica stopped: 503 OUTCOME_UNKNOWN; the same Idempotency-Key after it resumes: 202 with the same job', async () => {
  const config = loadConfig({
    ...topologyEnv, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', API_KEYS: 'k1', LOG_LEVEL: 'silent', REDIS_PREFIX: 'rh:',
    QUEUE_WAIT_REPLICAS: '1', QUEUE_WAIT_TIMEOUT_MS: '300',
  });
  const api = await startApi(exampleService, config, log, standaloneLink());
  try {
    const url = `http://127.0.0.1:${(api.server.server.address() as AddressInfo).port}/v1/exports`;
    const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k1', 'idempotency-key': 'export-1' }, body: '{"format":"csv"}' });
    sentinels.pauseReplica();
    const refused = await post();
    const problem = await refused.json() as Record<string, unknown>;
    assert.equal(refused.status, 503, JSON.stringify(problem));
    assert.equal(problem.code, 'OUTCOME_UNKNOWN');
    assert.equal('applied' in problem, false);
    assert.equal(refused.headers.get('retry-after'), '1');
    const redis = await client('check');
    const stream = queueKeys('rh:', 'default').stream;
    assert.equal(await redis.xLen(stream), 1, 'the job was written on the master');
    sentinels.resumeReplica();
    const retried = await post();
    const body = await retried.json() as { id: string };
    assert.equal(retried.status, 202, JSON.stringify(body));
    const again = await post();
    assert.equal((await again.json() as { id: string }).id, body.id, 'the retry and its replay name one job');
    assert.equal(await redis.xLen(stream), 1, 'one job in the queue: the retry wrote nothing new');
  } finally {
    await api.stop();
  }
});

test('POST /v1/exports answered 503 OUTCOME_UNKNOWN by the replica wait keeps its quota reservation: the job may run, so the next export past the cap is refused', async () => {
  // One export not yet complete fills the cap.
  const config = loadConfig({
    ...topologyEnv, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', API_KEYS: 'k1', LOG_LEVEL: 'silent', REDIS_PREFIX: 'rq:',
    QUEUE_WAIT_REPLICAS: '1', QUEUE_WAIT_TIMEOUT_MS: '300', EXPORT_MAX_STORED_BYTES: String(EXPORT_MAX_BYTES),
  });
  const api = await startApi(exampleService, config, log, standaloneLink());
  try {
    const url = `http://127.0.0.1:${(api.server.server.address() as AddressInfo).port}/v1/exports`;
    const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k1' }, body: '{"format":"csv"}' });
    sentinels.pauseReplica();
    const unconfirmed = await post();
    assert.equal(unconfirmed.status, 503);
    assert.equal((await unconfirmed.json() as { code: string }).code, 'OUTCOME_UNKNOWN');
    const redis = await client('quota');
    assert.equal(await redis.xLen(queueKeys('rq:', 'default').stream), 1, 'the job was written on the master');
    const held = exportKeys('rq:').heldBytes(createHash('sha256').update('k1').digest('hex').slice(0, 12));
    assert.equal(Number(await redis.hGet(held, 'total')), EXPORT_MAX_BYTES, 'the unconfirmed export still counts');
    sentinels.resumeReplica();
    const refused = await post();
    assert.equal(refused.status, 429, await refused.clone().text());
    assert.equal((await refused.json() as { code: string }).code, 'QUOTA_EXCEEDED');
  } finally {
    await api.stop();
  }
});

test('a worker with replicaAck settles, then waits for the replica; a stopped one is logged, the job stays complete', async () => {
  const redis = await client('worker');
  const lines: string[] = [];
  const workerLog = createLogger('warn', {}, (line) => void lines.push(line));
  const queue = createQueue({ redis, prefix: 'rs:', jobs: TEST_JOBS, replicaAck: { replicas: 1, timeoutMs: 300 } });
  const done = await queue.enqueue(echo, { value: 'acked' });
  const worker = startWorker({ queue, consumer: 'w', log: workerLog, blockMs: 100 });
  try {
    await worker.ready;
    await until(async () => (await queue.getJob(done.id))?.status === 'complete', 10_000, 'the first job complete');
    assert.deepEqual(lines.filter((l) => l.includes('not acknowledged')), [], 'with the replica up, no warning');
    sentinels.pauseReplica();
    const job = await createQueue({ redis, prefix: 'rs:', jobs: TEST_JOBS }).enqueue(echo, { value: 'unacked' });
    await until(() => lines.some((l) => l.includes('settled jobs not acknowledged by the replicas')), 10_000, 'the warning');
    assert.equal((await queue.getJob(job.id))?.status, 'complete', 'the master has the job settled');
  } finally {
    sentinels.resumeReplica();
    await worker.stop();
  }
});

test('on a cluster the WAIT goes to the node that owns the queue\'s slot: with its replica stopped the enqueue answers 503 OUTCOME_UNKNOWN, while the other masters\' replicas run', { timeout: 120_000 }, async (t) => {
  const cluster = await startTestCluster();
  t.after(() => cluster.stop());
  const redis = createRedis({ url: '', topology: loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes }).redisTopology, commandTimeoutMs: 2000, log, name: 'cluster' });
  clients.push(redis);
  await until(() => redis.isReady, 20_000, 'the cluster client ready');
  // Queue "acked" hashes to slot 740; a WAIT routed like a keyed command ("1": slot 9842) would reach another
  // master, whose replica answers at once.
  const queue = createQueue({ redis, prefix: 'rc:', name: 'acked', jobs: TEST_JOBS, replicaAck: { replicas: 1, timeoutMs: 300 } });
  const acknowledged = () => queue.enqueue(echo, { value: 'replicated' }).then(() => true, () => false);
  // A fresh cluster's replicas may still be syncing.
  await until(acknowledged, 30_000, 'enqueues acknowledged');
  const resume = await cluster.pauseSlotReplicas(queue.keys.stream);
  try {
    const refused = await queue.enqueue(echo, { value: 'unacked' }).then(() => null, (err: unknown) => err);
    assert.ok(refused instanceof HttpError && refused.code === 'OUTCOME_UNKNOWN', String(refused));
  } finally {
    resume();
  }
  await until(acknowledged, 30_000, 'enqueues acknowledged again');
});
