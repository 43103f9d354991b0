// The queue across real worker processes: kill -9 mid-job, a stalled (zombie) worker, long jobs under a short
// lease, SIGTERM with jobs in flight, a Redis restart, cron with two workers, and the operator CLI.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, type Queue } from '../src/queue/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { killWorkers, runCli, spawnWorker, until, type WorkerProc } from './support/queue.ts';
import { echo, flaky, nap, TEST_JOBS } from './support/queue-jobs.ts';

let server: TestRedis;
let redis: Redis;
let queue: Queue;
const log = createLogger('silent');
let procs: WorkerProc[] = [];

async function spawn(id: string, env: Record<string, string> = {}): Promise<WorkerProc> {
  const p = await spawnWorker(server.url, id, env);
  procs.push(p);
  return p;
}

const record = (id: string) => queue.getJob(id);
const runs = (id: string) => redis.lRange(`runs:${id}`, 0, -1);
const ended = (id: string, timeoutMs = 90_000) =>
  until(async () => ['complete', 'failed', 'aborted'].includes((await record(id))?.status ?? ''), timeoutMs, `job ${id} to end`);

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 1000 });
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

test('kill -9 mid-job: another worker re-runs it after the lease, and it completes exactly once', async () => {
  // A lease long enough that a live worker's heartbeat never slips past it on a loaded machine.
  const slow = { JOB_LEASE_MS: '2000' };
  const [a, b] = await Promise.all([spawn('A', slow), spawn('B', slow)]);
  const job = await queue.enqueue(nap, { ms: 50, firstMs: 60_000 });
  await until(async () => (await runs(job.id)).length >= 1, 60_000, 'a worker to start the job');
  const [owner] = await runs(job.id);
  // By name, not by spawn order: procs lists workers in the order they became ready.
  const victim = owner.startsWith('A') ? a : b;
  victim.child.kill('SIGKILL');
  await victim.exited;
  await ended(job.id);
  const done = await record(job.id);
  assert.equal(done?.status, 'complete');
  assert.equal(done?.attempt, 2);
  assert.equal((await runs(job.id)).length, 2);
  assert.notEqual(done?.worker, owner.split(':')[0], 'the survivor completed it');
  assert.equal((await queue.stats()).processed, 1, 'one completion');
});

test('a stalled worker (SIGSTOP) loses its job to another; its late completion is rejected', async () => {
  const a = await spawn('A', { JOB_LEASE_MS: '400' });
  const job = await queue.enqueue(nap, { ms: 700, ignoreSignal: true });
  await until(async () => (await runs(job.id)).length === 1, 60_000, 'A to start');
  a.child.kill('SIGSTOP');
  await spawn('B', { JOB_LEASE_MS: '400' });
  await ended(job.id);
  const done = await record(job.id);
  assert.deepEqual({ status: done?.status, result: done?.result }, { status: 'complete', result: { worker: 'B', attempt: 2 } });
  a.child.kill('SIGCONT'); // the zombie finishes its attempt 1 now and tries to complete it
  // Its heartbeat finds the lease lost, or its completion is refused: either way it writes nothing.
  await until(() => /stale attempt ignored|attempt abandoned/.test(a.output()), 60_000, 'the zombie to stand down');
  const after = await record(job.id);
  assert.deepEqual(after?.result, { worker: 'B', attempt: 2 });
  assert.equal((await queue.stats()).processed, 1, 'exactly one completion recorded');
});

test('a job running longer than the lease on a live worker is never re-run', async () => {
  await spawn('A', { JOB_LEASE_MS: '800' });
  await spawn('B', { JOB_LEASE_MS: '800' });
  const job = await queue.enqueue(nap, { ms: 2500 });
  await ended(job.id);
  assert.equal((await runs(job.id)).length, 1);
  assert.equal((await record(job.id))?.attempt, 1);
  assert.equal((await record(job.id))?.status, 'complete');
});

test('SIGTERM with jobs in flight: short ones finish, long ones are re-queued at once, none lost, exit 0', async () => {
  const a = await spawn('A', { WORKER_GRACE_MS: '300', JOB_LEASE_MS: '30000' });
  const short = await Promise.all(Array.from({ length: 5 }, () => queue.enqueue(nap, { ms: 100 })));
  const long = await Promise.all(Array.from({ length: 5 }, () => queue.enqueue(nap, { ms: 1500 })));
  await until(async () => (await Promise.all(long.map((j) => runs(j.id)))).every((r) => r.length === 1), 60_000, 'A to start all');
  a.child.kill('SIGTERM');
  assert.deepEqual(await a.exited, { code: 0, signal: null });
  for (const j of short) assert.equal((await record(j.id))?.status, 'complete');
  for (const j of long) assert.equal((await record(j.id))?.status, 'queued', 'interrupted jobs are back in the stream');
  // A 30 s lease: only an immediate re-delivery (not a reclaim) can finish them within the test.
  await spawn('B', { JOB_LEASE_MS: '30000' });
  for (const j of long) await ended(j.id);
  for (const j of long) {
    const r = await record(j.id);
    assert.equal(r?.status, 'complete');
    assert.deepEqual(r?.result, { worker: 'B', attempt: 1 }, 'the interrupted attempt does not count as a try');
  }
});

test('Redis restarted while a worker waits: the worker reconnects and resumes without a restart', async () => {
  const a = await spawn('A');
  const first = await queue.enqueue(echo, { value: 'before' });
  await ended(first.id);
  await server.kill();
  await new Promise((r) => setTimeout(r, 300));
  await server.restart(); // no persistence: the stream and group are gone too
  await until(() => redis.isReady, 60_000, 'reconnect');
  const second = await queue.enqueue(echo, { value: 'after' });
  await ended(second.id);
  assert.equal((await record(second.id))?.status, 'complete');
  assert.equal(a.child.exitCode, null);
});

test('a cron tick with two workers runs once', async () => {
  await spawn('A', { TEST_CRON: '* * * * * *' });
  await spawn('B', { TEST_CRON: '* * * * * *' });
  await until(async () => (await redis.lLen('ticks')) >= 3, 60_000, 'three ticks');
  const ticks = await redis.lRange('ticks', 0, -1);
  assert.equal(new Set(ticks).size, ticks.length, `no tick ran twice: ${ticks.join(', ')}`);
});

test('CLI: check follows worker heartbeats; stats, inspect and replay-dead operate the queue', async () => {
  assert.equal((await runCli(server.url, ['check'])).code, 1, 'no worker yet');
  const a = await spawn('A');
  const check = await runCli(server.url, ['check']);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, /1 live worker\(s\): A/);

  const job = await queue.enqueue(flaky, { failures: 99 });
  await ended(job.id);
  const [stats, inspect, missing] = await Promise.all([
    runCli(server.url, ['stats']), runCli(server.url, ['inspect', job.id]), runCli(server.url, ['inspect', 'nope']),
  ]);
  assert.equal(stats.code, 0);
  assert.match(stats.stdout, /^dead\s+1$/m);
  assert.match(stats.stdout, /^failed\s+1$/m);
  assert.equal(inspect.code, 0);
  assert.equal(JSON.parse(inspect.stdout).status, 'failed');
  assert.equal(missing.code, 1);
  const replay = await runCli(server.url, ['replay-dead', '--limit', '5']);
  assert.match(replay.stdout, /replayed 1 dead job/);
  await until(async () => (await runs(job.id)).length === 6, 60_000, 'replayed tries');

  a.child.kill('SIGTERM');
  await a.exited;
  assert.deepEqual(await queue.liveWorkers(), [], 'a stopped worker deregisters');
});
