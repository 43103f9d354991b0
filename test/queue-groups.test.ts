// Group concurrency across real worker processes: at most `groupConcurrency` jobs of one group run at once (as the
// handlers themselves see it), every job completes exactly once, one busy group holds up no other, and a worker
// killed with -9 while it holds a group's only slot leaves the group to go on once its lease expires. Parked jobs
// read as queued to clients and as `waiting` to operators, who can abort, delete and drain them.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, QueueOperator, type JobHandle, type Queue } from '../src/queue/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { killWorkers, spawnWorker, until, type WorkerProc } from './support/queue.ts';
import { soloJob, tenantJob, TEST_JOBS } from './support/queue-jobs.ts';

const LEASE_MS = 1500;

let server: TestRedis;
let redis: Redis;
let queue: Queue;
let operator: QueueOperator;
let procs: WorkerProc[] = [];

async function spawn(id: string, env: Record<string, string> = {}): Promise<WorkerProc> {
  const p = await spawnWorker(server.url, id, { JOB_LEASE_MS: String(LEASE_MS), ...env });
  procs.push(p);
  return p;
}

const runs = (id: string) => redis.lRange(`runs:${id}`, 0, -1);
/** The most jobs of the tenant its handlers saw running at once. */
const mostSeen = async (tenant: string) => Math.max(0, ...(await redis.lRange(`seen:${tenant}`, 0, -1)).map(Number));
const statuses = (jobs: JobHandle[]) => Promise.all(jobs.map((j) => j.status()));
const allComplete = async (jobs: JobHandle[]) => (await statuses(jobs)).every((s) => s === 'complete');
/** Keys of the group machinery left in Redis (none once nothing runs or waits). */
const groupKeys = async () => [...await redis.keys('qt:q:{default}:group-*'), ...await redis.keys('qt:q:{default}:waiting')];

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log: createLogger('silent') });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 1000 });
  operator = new QueueOperator(queue);
});
beforeEach(() => server.flush());
afterEach(async () => {
  await killWorkers(procs);
  procs = [];
});
after(async () => {
  await closeRedis(redis);
  await server.stop();
});

test('3 workers, 20 groups of 2: never more than 2 of a group at once, each job once, a busy group holds up no other', async (t) => {
  // Workers first, each with 4 slots (12 in all). Then the busy group first in the stream: 12 jobs of 1 s, then
  // 20 groups × 6 jobs of 20 ms. Parked jobs hold no slot, so the busy group takes 2 and the other 10 serve
  // everyone else.
  await Promise.all(['A', 'B', 'C'].map((id) => spawn(id, { WORKER_MAX_JOBS: '4' })));
  const busy = await Promise.all(Array.from({ length: 12 }, () => queue.enqueue(tenantJob, { tenant: 'busy', ms: 1000 })));
  const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
  const others = await Promise.all(tenants.flatMap((tenant) => Array.from({ length: 6 }, () => queue.enqueue(tenantJob, { tenant, ms: 20 }))));
  await until(() => allComplete(others), 60_000, 'the 120 jobs of the 20 groups');
  const busyWhenOthersDone = await statuses(busy);
  await until(() => allComplete(busy), 60_000, 'the busy group');

  const busyLeft = busyWhenOthersDone.filter((s) => s !== 'complete').length;
  assert.ok(busyLeft >= 2, `the 20 groups finished while ${busyLeft} of the busy group's 12 still waited or ran`);
  const most = await Promise.all([...tenants, 'busy'].map(mostSeen));
  assert.ok(most.every((m) => m <= 2), `most running at once per group: ${most.join(' ')}`);
  assert.equal(Math.max(...most), 2, 'groups did run 2 at once');
  const traces = await Promise.all([...busy, ...others].map((j) => runs(j.id)));
  assert.ok(traces.every((r) => r.length === 1), 'every job ran exactly once');
  assert.equal(new Set(traces.map((r) => r[0].split(':')[0])).size, 3, 'all three workers ran jobs');
  assert.deepEqual(await groupKeys(), [], 'no slot or parked job is left behind');
  t.diagnostic(`busy group: ${busyLeft} of 12 not done when the other 120 were; most at once per group ${most.join(' ')}`);
});

test('kill -9 while holding a group\'s only slot: the job runs again after its lease and the group goes on', async () => {
  const a = await spawn('A');
  const first = await queue.enqueue(soloJob, { tenant: 'solo', ms: 20, firstMs: 60_000 });
  await until(async () => (await runs(first.id)).length === 1, 15_000, 'A to start the first job');
  const rest = await Promise.all([1, 2, 3].map(() => queue.enqueue(soloJob, { tenant: 'solo', ms: 20 })));
  // Parked behind the running one: queued to clients, waiting to operators.
  await until(async () => (await queue.stats()).waiting === 3, 15_000, 'the other three to be parked');
  assert.deepEqual(await statuses(rest), ['queued', 'queued', 'queued']);
  assert.deepEqual((await operator.list('waiting')).jobs.map((j) => j.id).sort(), rest.map((j) => j.id).sort());
  assert.equal((await operator.overview()).counts.waiting, 3);

  a.child.kill('SIGKILL');
  await a.exited;
  await spawn('B');
  await until(() => allComplete([first, ...rest]), 30_000, 'the group to go on');
  assert.deepEqual(await runs(first.id), ['A:1', 'B:2'], 'the orphan ran again on the survivor');
  for (const job of rest) assert.deepEqual(await runs(job.id), ['B:1']);
  assert.equal(await mostSeen('solo'), 1, 'one at a time throughout');
  assert.deepEqual(await groupKeys(), []);
});

test('a parked job can be aborted, deleted or drained; abort, retry and fail give the slot back', async () => {
  await spawn('A');
  const hold = await queue.enqueue(soloJob, { tenant: 'g', ms: 60_000 });
  await until(async () => (await runs(hold.id)).length === 1, 15_000, 'the first job to run');
  const [aborted, deleted, drained] = await Promise.all([1, 2, 3].map(() => queue.enqueue(soloJob, { tenant: 'g', ms: 20 })));
  await until(async () => (await queue.stats()).waiting === 3, 15_000, 'three parked');

  assert.equal(await queue.abort(aborted.id), 'aborted');
  assert.deepEqual(await operator.delete([deleted.id], true), { deleted: 1, running: 0 });
  assert.deepEqual(await operator.drain(), { deleted: 1, remaining: 0 });
  assert.deepEqual([await drained.status(), await deleted.status(), (await queue.stats()).waiting], ['not_found', 'not_found', 0]);

  // Aborting the running job frees the slot: a new job of the group runs.
  const next = await queue.enqueue(soloJob, { tenant: 'g', ms: 20, failures: 1 });
  const after = await queue.enqueue(soloJob, { tenant: 'g', ms: 20 });
  assert.equal(await queue.abort(hold.id), 'aborting');
  // `next` fails once: waiting for its retry it holds no slot, so the group does not stall on it.
  await until(() => allComplete([next, after]), 15_000, 'the group to go on after the abort');
  assert.equal(await hold.status(), 'aborted');
  assert.deepEqual(await runs(next.id), ['A:1', 'A:2']);
  assert.equal(await mostSeen('g'), 1);

  // A job that fails for good gives its slot back too.
  const doomed = await queue.enqueue(soloJob, { tenant: 'g', ms: 0, failures: 3 });
  const last = await queue.enqueue(soloJob, { tenant: 'g', ms: 0 });
  await until(async () => (await doomed.status()) === 'failed' && (await last.status()) === 'complete', 15_000, 'fail, then the next job');
  assert.deepEqual(await groupKeys(), []);
});

test('a debounce reaches a parked job: it leaves its group\'s waiting line for its new start, then runs once with the last payload', async () => {
  await spawn('A');
  const hold = await queue.enqueue(soloJob, { tenant: 'd', ms: 60_000 });
  await until(async () => (await runs(hold.id)).length === 1, 15_000, 'the first job to run');
  const debounce = { key: 'k', mode: 'debounce', delayMs: 100 } as const;
  const first = await queue.enqueue(soloJob, { tenant: 'd', ms: 1 }, { dedupe: debounce });
  await until(async () => (await queue.stats()).waiting === 1, 15_000, 'the debounced job to be parked once due');
  const second = await queue.enqueue(soloJob, { tenant: 'd', ms: 2 }, { dedupe: debounce });
  assert.equal(second.id, first.id, 'the enqueue resolved to the parked job');
  assert.deepEqual([(await queue.stats()).waiting, await first.status()], [0, 'deferred']);
  await until(async () => (await queue.stats()).waiting === 1, 15_000, 'parked again once due');
  assert.equal(await queue.abort(hold.id), 'aborting');
  await until(async () => (await first.status()) === 'complete', 15_000, 'the debounced job to run');
  assert.deepEqual(await runs(first.id), ['A:1']);
  assert.deepEqual((await operator.job(first.id))?.payload, { tenant: 'd', ms: 2 });
  assert.deepEqual(await groupKeys(), []);
});
