// The queue's limits on a queue spread over 3 partitions (3 key sets on one Redis): a group's jobs share one
// partition whatever idempotency or dedupe key they carry (so its concurrency limit is exact), and retries under
// an idempotency key still find their job; the queue's rate limit is split over the partitions so that together
// they allow it once (counted on Redis's clock, each window the quota ± 1 like test/queue-ratelimit.test.ts); and
// the partition count is recorded in Redis by the first process, which refuses processes with another count.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, QueuePartitionsError, startWorker, type Queue, type Worker } from '../src/queue/index.ts';
import { partitionIndex } from '../src/queue/partitions.ts';
import { runEntry } from './support/process.ts';
import { runCli, until } from './support/queue.ts';
import { echo, nap, tenantJob, TEST_JOBS } from './support/queue-jobs.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const log = createLogger('silent');
let server: TestRedis;
let redis: Redis;
let queue: Queue;
const workers: Worker[] = [];

function worker(on: Queue, maxJobs: number): Worker {
  const w = startWorker({ queue: on, consumer: `lw${workers.length}`, log, maxJobs, leaseMs: 2000, blockMs: 100, promoteEveryMs: 20 });
  workers.push(w);
  return w;
}

/** The partition a group's jobs go to. */
const groupPartition = (group: string) => partitionIndex(`group:${group}`, 3);
/** A partition key that routes to partition `p` of 3. */
const keyFor = (p: number, tag: string) => {
  for (let i = 0; ; i++) if (partitionIndex(`${tag}-${i}`, 3) === p) return `${tag}-${i}`;
};

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 2000, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 2000, partitions: 3 });
});
beforeEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await server.flush();
});
after(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await closeRedis(redis);
  await server.stop();
});

test('a group\'s jobs share its partition whatever idempotency or dedupe key they carry; retries of a key find the job, another payload under it is a 409', async () => {
  const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];
  const keys = Array.from({ length: 9 }, (_, i) => `order-${i}`);
  // The keys alone would spread over every partition (the old routing put each job in its key's).
  assert.equal(new Set(keys.map((k) => partitionIndex(`${'alice'.length}:alice:${k}`, 3))).size, 3);
  const first = await Promise.all(tenants.flatMap((tenant) => keys.map((key) =>
    queue.enqueue(tenantJob, { tenant, ms: 200 }, { owner: 'alice', idempotencyKey: `${tenant}:${key}` }))));
  for (const [i, h] of first.entries()) {
    assert.equal(partitionIndex(h.id, 3), groupPartition(tenants[Math.floor(i / keys.length)]!), `job ${i} is in its group's partition`);
    assert.equal(h.created, true);
  }
  assert.equal(new Set(tenants.map(groupPartition)).size, 3, 'the tenants themselves spread over the partitions');
  // Every retry, concurrent ones included, is the first job; the index lives in the key's partition.
  const retries = await Promise.all(first.map((_, i) => queue.enqueue(tenantJob, { tenant: tenants[Math.floor(i / keys.length)]!, ms: 200 },
    { owner: 'alice', idempotencyKey: `${tenants[Math.floor(i / keys.length)]}:${keys[i % keys.length]}` })));
  assert.deepEqual(retries.map((h) => [h.id, h.created]), first.map((h) => [h.id, false]));
  const other = tenants.find((t) => groupPartition(t) !== groupPartition('acme'))!;
  for (const payload of [{ tenant: 'acme', ms: 1 }, { tenant: other, ms: 200 }]) {
    await assert.rejects(queue.enqueue(tenantJob, payload, { owner: 'alice', idempotencyKey: 'acme:order-0' }), { status: 409 }, `payload ${JSON.stringify(payload)}`);
  }
  await assert.rejects(queue.enqueue(echo, { value: 'x' }, { owner: 'alice', idempotencyKey: 'acme:order-1' }), { status: 409 }, 'the key is per owner, not per job name');
  const fresh = await Promise.all([0, 1, 2].map(() => queue.enqueue(tenantJob, { tenant: other, ms: 200 }, { owner: 'alice', idempotencyKey: 'same-at-once' })));
  assert.equal(new Set(fresh.map((h) => h.id)).size, 1, 'three concurrent first enqueues under one key make one job');
  assert.deepEqual(fresh.map((h) => h.created).sort(), [false, false, true]);

  // A dedupe key is matched in the group's partition, wherever the key alone would have gone.
  const throttled = await Promise.all([0, 1, 2, 3].map((i) => queue.enqueue(tenantJob, { tenant: 'hooli', ms: 10 + i }, { dedupe: { mode: 'throttle', key: 'nightly' } })));
  assert.ok(throttled.slice(1).every((h) => h.id === throttled[0]!.id && h.deduped === 'throttled'));
  assert.equal(partitionIndex(throttled[0]!.id, 3), groupPartition('hooli'));
  // A partition's own enqueue (a worker's cron tick) is routed too.
  assert.equal(partitionIndex((await queue.partitions[(groupPartition('stark') + 1) % 3]!.enqueue(tenantJob, { tenant: 'stark', ms: 200 })).id, 3), groupPartition('stark'));
  await assert.rejects(queue.enqueue(tenantJob, { tenant: 'acme', ms: 1 }, { id: 'given-1' }), /group's partition/);
  await assert.rejects(queue.enqueue(tenantJob, { tenant: 'acme', ms: 1 }, { partitionKey: 'k' }), /group's partition/);

  // Two workers with 3 slots per partition each: 6 could run at once in a partition, 2 of a tenant do.
  worker(queue, 9);
  worker(queue, 9);
  const all = [...first, fresh[0]!, throttled[0]!];
  await until(async () => (await Promise.all(all.map((h) => h.status()))).every((s) => s === 'complete'), 60_000, 'every job to complete');
  const seen = await Promise.all(tenants.map(async (t) => Math.max(...(await redis.lRange(`seen:${t}`, 0, -1)).map(Number))));
  assert.ok(seen.every((n) => n <= 2), `most of a tenant at once: ${seen.join(' ')} (limit 2)`);
  assert.ok(seen.some((n) => n === 2), 'the limit was reached, so it was what held them');
  assert.ok((await Promise.all(all.map((h) => redis.lLen(`runs:${h.id}`)))).every((n) => n === 1), 'each job ran once');
});

test('the rate limit is split over the partitions: 7 a second as 3 + 2 + 2, no second over 7 across them, each the quota ± 1', async (t) => {
  const QUOTA = 7;
  const WINDOW_MS = 1000;
  const WINDOWS = 4;
  assert.throws(() => createQueue({ redis, prefix: 'qt:', jobs: [], partitions: 3, rateLimit: { jobs: 2, perMs: 1000 } }), /rateLimit\.jobs \(2\) is split over the 3 partitions/);
  const limited = createQueue({ redis, prefix: 'qt:', name: 'limited', jobs: TEST_JOBS, commandTimeoutMs: 2000, partitions: 3, rateLimit: { jobs: QUOTA, perMs: WINDOW_MS } });
  const shares = [3, 2, 2];
  assert.deepEqual(limited.partitions.map((p) => p.rateLimit), shares.map((s) => `${s},${WINDOW_MS}`));
  // Each partition's backlog lasts WINDOWS windows at its share, so all are busy together.
  const jobs = await Promise.all(shares.flatMap((share, p) => Array.from({ length: share * WINDOWS }, () =>
    limited.enqueue(nap, { ms: 10 }, { partitionKey: keyFor(p, 'rate') }))));
  worker(limited, 30);
  worker(limited, 30);
  await until(async () => (await Promise.all(jobs.map((j) => j.status()))).every((s) => s === 'complete'), 60_000, 'every job to complete');
  const records = await Promise.all(jobs.map((j) => limited.getJob(j.id)));
  assert.ok(records.every((r) => r!.attempt === 1));
  const byPartition = shares.map((_, p) => records.filter((r) => partitionIndex(r!.id, 3) === p).map((r) => r!.startedAt!).sort((a, b) => a - b));
  const starts = byPartition.flat().sort((a, b) => a - b);
  // No window holds more than the whole quota: the start QUOTA places later is at least a window later.
  for (let i = QUOTA; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - QUOTA] >= WINDOW_MS, `starts ${i - QUOTA} and ${i} are ${starts[i] - starts[i - QUOTA]} ms apart`);
  }
  // Each whole window from the first start, while every partition has a backlog: the quota ± 1, less the starts a
  // partition's limit allowed before the window ended but its worker made after (as in queue-ratelimit).
  const moved = (boundary: number) => byPartition.reduce((sum, own, p) =>
    sum + own.filter((s, i) => i >= shares[p]! && own[i - shares[p]!]! + WINDOW_MS < boundary && s >= boundary).length, 0);
  const t0 = starts[0]!;
  const busyUntil = Math.min(...byPartition.map((own) => own[own.length - 1]!));
  const perWindow: number[] = [];
  for (let k = 0; t0 + (k + 1) * WINDOW_MS <= busyUntil; k++) {
    const [from, to] = [t0 + k * WINDOW_MS, t0 + (k + 1) * WINDOW_MS];
    const count = starts.filter((s) => s >= from && s < to).length;
    perWindow.push(count);
    const slack = 1 + moved(to);
    assert.ok(count <= QUOTA + 1 && count >= QUOTA - slack, `window ${k + 1}: ${count} started, quota ${QUOTA} ± ${slack}`);
  }
  assert.ok(perWindow.length >= 2, `every partition was busy for ${perWindow.length} whole windows`);
  t.diagnostic(`starts per window ${perWindow.join(' ')} (quota ${QUOTA} as ${shares.join(' + ')})`);
});

test('the first process records the partition count; a queue, a worker process, an API process or the CLI with another is refused', async () => {
  await queue.checkPartitions();
  assert.equal(await redis.get(queue.keys.partitionCount), '3');
  await queue.checkPartitions();
  await createQueue({ redis, prefix: 'qt:', jobs: [], partitions: 3 }).checkPartitions();
  const two = createQueue({ redis, prefix: 'qt:', jobs: [], partitions: 2 });
  for (const record of [true, false]) {
    await assert.rejects(two.checkPartitions(record), (err: unknown) => err instanceof QueuePartitionsError && err.code === 'SKIFF_QUEUE_PARTITIONS'
      && /queue default has 3 partition\(s\).*QUEUE_PARTITIONS=2.*Set QUEUE_PARTITIONS=3/.test(err.message));
  }
  assert.equal(await redis.get(queue.keys.partitionCount), '3', 'a refused process records nothing');
  await createQueue({ redis, prefix: 'qt:', name: 'fresh', jobs: [] }).checkPartitions(false);
  assert.equal(await redis.exists('qt:q:{fresh}:partitions'), 0, 'the CLI only reads');

  const cli = await runCli(server.url, ['stats'], { QUEUE_PARTITIONS: '2' });
  assert.equal(cli.code, 1);
  assert.match(cli.stdout, /^skiff: SKIFF_QUEUE_PARTITIONS: queue default has 3 partition\(s\)/);
  // The example service's processes, on the prefix they use: 4 recorded, started with 2.
  const prefix = loadConfig({}).redisPrefix;
  await createQueue({ redis, prefix, jobs: [], partitions: 4 }).checkPartitions();
  const env = { REDIS_URL: server.url, QUEUE_PARTITIONS: '2', WORKER_CONCURRENCY: '1', WEB_CONCURRENCY: '1', PORT: '0' };
  const runs = [runEntry('src/worker.ts', env), runEntry('src/server.ts', env)];
  for (const run of runs) {
    assert.equal(await run.exited, 1, run.lines.join('\n'));
    const fatal = run.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'a worker cannot start and a new one would fail the same way; stopping');
    assert.equal(fatal.length, 1, run.lines.join('\n'));
    assert.match(String(fatal[0]!.reason), /^SKIFF_QUEUE_PARTITIONS: queue default has 4 partition\(s\).*QUEUE_PARTITIONS=2/);
  }
});
