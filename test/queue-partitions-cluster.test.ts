// A 3-partition queue on a live 3-master / 3-replica Redis Cluster started by the harness: its partitions' keys
// live on three different masters (CLUSTER KEYSLOT and CLUSTER SLOTS agree), and the Redis commands that enqueueing
// and running jobs cost split across the masters within 33 % ± 10 % each, counted with INFO commandstats on every
// master: the evidence that a partitioned queue's work scales with the masters (a queue of one partition puts it all
// on one). A grouped job's idempotency key and the job itself sit on different masters and still find each other;
// the partition count is recorded and checked there too. Nothing else runs on this cluster.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, QueuePartitionsError, startWorker, type Queue } from '../src/queue/index.ts';
import { partitionIndex } from '../src/queue/partitions.ts';
import { startTestCluster, type TestCluster } from './support/redis-cluster.ts';
import { keySlot } from './support/redis-slot.ts';
import { until } from './support/queue.ts';
import { echo, tenantJob, TEST_JOBS } from './support/queue-jobs.ts';

const log = createLogger('silent');
const JOBS = 3000;
let cluster: TestCluster;
let redis: Redis;
let queue: Queue;

before(async () => {
  cluster = await startTestCluster();
  const config = loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_COMMAND_TIMEOUT_MS: '2000' });
  redis = createRedis({ url: '', topology: config.redisTopology, commandTimeoutMs: 2000, log });
  await until(() => redis.isReady, 10_000, 'the cluster client ready');
  queue = createQueue({ redis, prefix: 'skiff:', name: 'jobs', jobs: TEST_JOBS, commandTimeoutMs: 5000, partitions: 3 });
});
after(async () => {
  await closeRedis(redis);
  await cluster.stop();
});

/** Each master's node id and the slot ranges it serves. */
async function masterSlots(): Promise<{ id: string; ranges: [number, number][] }[]> {
  const ids = (await cluster.onMasters(['CLUSTER', 'MYID'])).map(String);
  const slots = (await cluster.onMasters(['CLUSTER', 'SLOTS']))[0] as [number, number, [string, number, string]][];
  return ids.map((id) => ({ id, ranges: slots.filter((s) => s[2][2] === id).map(([from, to]): [number, number] => [from, to]) }));
}

/** Calls per command on every master since its last CONFIG RESETSTAT, less the harness's own (INFO, CONFIG, CLUSTER). */
async function commandCalls(): Promise<Map<string, number>[]> {
  const infos = (await cluster.onMasters(['INFO', 'commandstats'])).map(String);
  return infos.map((info) => {
    const calls = new Map<string, number>();
    for (const [, command, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (!/^(info|config|cluster)/.test(command!)) calls.set(command!, Number(n));
    }
    return calls;
  });
}

test('the 3 partitions of a queue live on the 3 masters', async () => {
  const masters = await masterSlots();
  const owners = await Promise.all(queue.partitions.map(async (p) => {
    const slot = keySlot(p.keys.stream);
    assert.equal(await redis.clusterKeySlot(p.keys.stream), slot, 'CLUSTER KEYSLOT agrees');
    return masters.findIndex((m) => m.ranges.some(([from, to]) => slot >= from && slot <= to));
  }));
  assert.deepEqual([...owners].sort(), [0, 1, 2], `partitions ${queue.partitions.map((p) => p.name)} on masters ${owners}`);
});

/** Enqueues `jobs` jobs on `on` in groups of 300 and runs them with one worker; returns each master's share of the commands. */
async function commandShares(on: Queue, jobs: number, report: (line: string) => void): Promise<number[]> {
  const worker = startWorker({ queue: on, consumer: 'split', log, maxJobs: 60, leaseMs: 5000, blockMs: 200 });
  await worker.ready;
  try {
    await cluster.onMasters(['CONFIG', 'RESETSTAT']);
    for (let sent = 0; sent < jobs; sent += 300) {
      await Promise.all(Array.from({ length: 300 }, (_, i) => on.enqueue(echo, { value: `v${sent + i}` })));
    }
    await until(async () => (await on.stats()).processed === jobs, 120_000, `${jobs} jobs processed`);
  } finally {
    await worker.stop();
  }
  const perMaster = await commandCalls();
  const totals = perMaster.map((calls) => [...calls.values()].reduce((a, b) => a + b, 0));
  const all = totals.reduce((a, b) => a + b, 0);
  assert.ok(all > jobs, `the jobs cost ${all} commands`);
  const shares = totals.map((n) => n / all);
  report(`${on.partitions.length} partition(s): commands per master ${totals.join(' / ')} of ${all} (${shares.map((s) => `${(100 * s).toFixed(1)} %`).join(' / ')})`);
  report(`by command: ${perMaster.map((calls) => [...calls].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([c, n]) => `${c}=${n}`).join(' ')).join(' | ')}`);
  return shares;
}

test('enqueueing and running 3000 jobs splits the Redis commands across the 3 masters within 33 % ± 10 % each', async (t) => {
  const shares = await commandShares(queue, JOBS, (line) => t.diagnostic(line));
  for (const share of shares) assert.ok(share >= 0.23 && share <= 0.43, `shares ${shares.map((s) => s.toFixed(3))}`);
});

test('the same work on a queue of one partition lands on one master', async (t) => {
  const single = createQueue({ redis, prefix: 'skiff:', name: 'single', jobs: TEST_JOBS, commandTimeoutMs: 5000 });
  const shares = await commandShares(single, 600, (line) => t.diagnostic(line));
  assert.ok(Math.max(...shares) > 0.9, `shares ${shares.map((s) => s.toFixed(3))}`);
});

test('a grouped job lives in its group\'s partition, its idempotency key in the key\'s, on another master: retries find it; the count is recorded', async () => {
  const grouped = createQueue({ redis, prefix: 'skiff:', name: 'grouped', jobs: TEST_JOBS, commandTimeoutMs: 5000, partitions: 3 });
  await grouped.checkPartitions();
  await assert.rejects(createQueue({ redis, prefix: 'skiff:', name: 'grouped', jobs: [], partitions: 2 }).checkPartitions(), QueuePartitionsError);
  const home = partitionIndex('group:acme', 3);
  const keys = Array.from({ length: 12 }, (_, i) => `order-${i}`).filter((k) => partitionIndex(`0::${k}`, 3) !== home);
  assert.ok(keys.length >= 3, 'keys whose index is on another master than the group\'s jobs');
  const first = await Promise.all(keys.map((key) => grouped.enqueue(tenantJob, { tenant: 'acme', ms: 0 }, { idempotencyKey: key })));
  assert.ok(first.every((h) => h.created && partitionIndex(h.id, 3) === home));
  const again = await Promise.all(keys.map((key) => grouped.enqueue(tenantJob, { tenant: 'acme', ms: 0 }, { idempotencyKey: key })));
  assert.deepEqual(again.map((h) => [h.id, h.created]), first.map((h) => [h.id, false]));
  await assert.rejects(grouped.enqueue(tenantJob, { tenant: 'acme', ms: 1 }, { idempotencyKey: keys[0] }), { status: 409 });
  assert.equal((await grouped.getJob(first[1]!.id))?.status, 'queued');
});
