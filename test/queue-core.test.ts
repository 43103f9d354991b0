// The queue in one process against a real Redis: lifecycle, retries and dead letters, timeouts, aborts,
// idempotency, validation, bounded stream, cron ticks, and failing fast when Redis is away.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createClient } from 'redis';
import { HttpError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, cronNext, defineJob, parseCron, queueCollector, startWorker, type Queue, type Worker } from '../src/queue/index.ts';
import { runScript, SCRIPTS } from '../src/queue/scripts.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { testClock } from './support/clock.ts';
import { until } from './support/queue.ts';
import { echo, flaky, nap, slowTimeout, TEST_JOBS } from './support/queue-jobs.ts';

let server: TestRedis;
let redis: Redis;
let queue: Queue;
const log = createLogger('silent');
const workers: Worker[] = [];
// Due dates are judged by this clock: tests move it past a delay instead of sleeping (Redis keeps real time).
const clock = testClock();

function worker(options: { maxJobs?: number; graceMs?: number } = {}): Worker {
  // A lease well above a loaded machine's heartbeat delays: these tests are not about lost leases.
  const w = startWorker({ queue, consumer: `w${workers.length}`, log, leaseMs: 2000, graceMs: 500, blockMs: 100, promoteEveryMs: 10, ...options });
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
}

const statusOf = async (id: string) => (await queue.getJob(id))?.status ?? 'not_found';
const settled = (id: string) => until(async () => ['complete', 'failed', 'aborted'].includes(await statusOf(id)), 30_000, `job ${id} to end`);

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 500, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 2000, clock });
});
beforeEach(async () => {
  await stopWorkers();
  await server.flush();
});
after(async () => {
  await stopWorkers();
  await closeRedis(redis);
  await server.stop();
});

test('a job is queued the moment enqueue returns, then runs to complete with its result', async () => {
  const job = await queue.enqueue(echo, { value: 'hello' });
  assert.equal(job.initialStatus, 'queued');
  assert.equal(await job.status(), 'queued');
  await worker().ready;
  await settled(job.id);
  const record = await queue.getJob(job.id);
  assert.equal(record?.status, 'complete');
  assert.deepEqual(record?.result, { value: 'hello' });
  assert.equal(record?.attempt, 1);
  assert.ok(record.finishedAt !== null && record.startedAt !== null && record.finishedAt >= record.startedAt);
  assert.ok((await redis.ttl(queue.keys.job(job.id))) > 0, 'a finished job expires');
  assert.equal(await queue.getJob('no-such-job'), null);
  assert.equal(await queue.getJob('../../etc'), null);
});

test('the lifecycle goes deferred → queued → in_progress → retrying → queued → in_progress → complete', async () => {
  const id = 'lifecycle';
  const listener = redis.duplicate();
  await listener.connect();
  const seen: string[] = [];
  await listener.subscribe(queue.keys.job(id), (message: string) => seen.push(message.split(' ')[1]));
  await worker().ready;
  // Nobody registered as a listener: the workers publish nothing.
  const unheard = await queue.enqueue(flaky, { failures: 0 }, { id });
  await settled(unheard.id);
  await listener.ping(); // a message published before the job settled would have arrived before this answer
  assert.deepEqual(seen, []);
  await redis.del(queue.keys.job(id));
  // Registered past the clock's jump below: listeners lapse on the queue's clock.
  await redis.zAdd(queue.keys.listeners, { score: clock.now() + 7_200_000, value: 'this test' });
  // Due in an hour: it runs once the clock is moved past that, not after a sleep.
  const job = await queue.enqueue(flaky, { failures: 1 }, { id, delayMs: 3_600_000 });
  assert.equal(job.id, id);
  assert.equal(job.initialStatus, 'deferred');
  clock.elapse(3_600_000);
  await settled(id);
  await until(() => seen.at(-1) === 'complete');
  await listener.close();
  assert.deepEqual(seen, ['queued', 'in_progress', 'retrying', 'queued', 'in_progress', 'complete']);
  const record = await queue.getJob(id);
  assert.equal(record?.attempt, 2);
  assert.equal(record?.error, 'failure 1');
});

test('a job failing every try ends failed with a dead letter, and replay runs it again', async () => {
  await worker().ready;
  const job = await queue.enqueue(flaky, { failures: 99 });
  await settled(job.id);
  const record = await queue.getJob(job.id);
  assert.equal(record?.status, 'failed');
  assert.equal(record?.attempt, 3);
  assert.equal(record?.error, 'failure 3');
  assert.equal(await redis.lLen(`runs:${job.id}`), 3);
  const stats = await queue.stats();
  assert.equal(stats.dead, 1);
  assert.equal(stats.failed, 1);
  assert.equal(stats.retried, 2);
  const letters = (await redis.sendCommand(['XRANGE', queue.keys.dead, '-', '+'])) as [string, string[]][];
  assert.equal(letters[0][1][1], job.id);

  assert.equal(await queue.replayDead(10), 1);
  assert.equal((await queue.stats()).dead, 0);
  await until(async () => (await redis.lLen(`runs:${job.id}`)) === 6, 30_000, 'three more tries');
  await settled(job.id);
  assert.equal(await statusOf(job.id), 'failed');
});

test('a handler past its timeout is aborted and the attempt fails', async () => {
  await worker().ready;
  const job = await queue.enqueue(slowTimeout, {});
  await settled(job.id);
  const record = await queue.getJob(job.id);
  assert.equal(record?.status, 'failed');
  assert.match(record?.error ?? '', /timed out after 150 ms/);
});

test('abort: a queued or deferred job ends aborted at once; a running one is stopped by its worker', async () => {
  const queued = await queue.enqueue(echo, { value: 'x' });
  const deferred = await queue.enqueue(echo, { value: 'y' }, { delayMs: 60_000 });
  assert.equal(await queue.abort(queued.id), 'aborted');
  assert.equal(await queue.abort(deferred.id), 'aborted');
  assert.equal(await statusOf(queued.id), 'aborted');
  assert.equal(await statusOf(deferred.id), 'aborted');
  assert.equal(await queue.abort('missing'), 'not_found');

  await worker().ready;
  const running = await queue.enqueue(nap, { ms: 60_000 });
  await until(async () => (await statusOf(running.id)) === 'in_progress');
  assert.equal(await queue.abort(running.id), 'aborting');
  await settled(running.id);
  assert.equal(await statusOf(running.id), 'aborted');
  assert.equal(await queue.abort(running.id), 'aborted', 'aborting again reports the end state');
  // The aborted queued job was never run.
  assert.equal(await redis.lLen(`runs:${queued.id}`), 0);
  assert.equal(await redis.xLen(queue.keys.stream), 0);
});

test('idempotency: same key and payload → the same job; another payload → 409', async () => {
  const first = await queue.enqueue(echo, { value: 'a', n: 1 }, { idempotencyKey: 'k1' });
  const again = await queue.enqueue(echo, { n: 1, value: 'a' }, { idempotencyKey: 'k1' });
  assert.equal(again.id, first.id);
  assert.equal(first.created, true);
  assert.equal(again.created, false);
  await assert.rejects(queue.enqueue(echo, { value: 'b' }, { idempotencyKey: 'k1' }), (err: HttpError) => err.status === 409 && err.code === 'CONFLICT');
  assert.equal(await redis.xLen(queue.keys.stream), 1);
  assert.equal((await queue.stats()).queued, 1);
});

test('queueCollector reports the queue figures from Redis, labelled by queue', async () => {
  await queue.enqueue(echo, { value: 'a' });
  await queue.enqueue(echo, { value: 'b' }, { delayMs: 60_000 });
  const families = await queueCollector(queue)();
  const value = (name: string) => families.find((f) => f.name === name)?.samples;
  assert.deepEqual(value('skiff_queue_depth'), [{ suffix: '', labels: { queue: 'default' }, value: 1 }]);
  assert.deepEqual(value('skiff_queue_delayed'), [{ suffix: '', labels: { queue: 'default' }, value: 1 }]);
  assert.equal(families.find((f) => f.name === 'skiff_queue_processed_total')?.type, 'counter');
});

test('a payload that does not match the job schema is refused with 422 field errors', async () => {
  await assert.rejects(queue.enqueue(echo, { value: '' }), (err: HttpError) => {
    assert.equal(err.status, 422);
    assert.deepEqual(err.errors?.[0].loc, ['payload', 'value']);
    return true;
  });
  await assert.rejects(queue.enqueue(echo, { nope: 1 } as never), (err: HttpError) => err.status === 422);
});

test('10 000 jobs complete and the stream stays bounded (acknowledged entries are trimmed away)', async () => {
  await worker().ready;
  const total = 10_000;
  const ids: string[] = [];
  // Bursts larger than one enqueue script call, so group commit splits and chunks them.
  for (let i = 0; i < total; i += 1000) {
    const handles = await Promise.all(Array.from({ length: 1000 }, (_, j) => queue.enqueue(echo, { value: `v${i + j}` })));
    ids.push(...handles.map((h) => h.id));
  }
  assert.equal(new Set(ids).size, total);
  await until(async () => (await queue.stats()).processed === total, 60_000, 'all processed');
  for (const i of [0, 4321, total - 1]) assert.deepEqual((await queue.getJob(ids[i]))?.result, { value: `v${i}` });
  assert.equal(await redis.xLen(queue.keys.stream), 0);
  const pending = (await redis.sendCommand(['XPENDING', queue.keys.stream, 'workers'])) as [number];
  assert.equal(Number(pending[0]), 0);
  const stats = await queue.stats();
  assert.equal(stats.queued, 0);
  assert.equal(stats.inProgress, 0);
});

test('a worker prefetches short jobs only while busy: a long job never keeps the next one from an idle worker', async () => {
  const busy = worker({ maxJobs: 1 });
  await busy.ready;
  // Quick jobs first: the worker learns its jobs are short, which is what makes it prefetch as it settles them.
  await Promise.all(Array.from({ length: 20 }, async (_, i) => settled((await queue.enqueue(echo, { value: `warm${i}` })).id)));
  const long = await queue.enqueue(nap, { ms: 5000 });
  await until(async () => (await statusOf(long.id)) === 'in_progress');
  const next = await queue.enqueue(nap, { ms: 10 });
  const idle = worker({ maxJobs: 1 });
  await idle.ready;
  await settled(next.id);
  assert.equal(await statusOf(long.id), 'in_progress', 'the next job did not wait for the long one');
  assert.equal((await queue.getJob(next.id))?.worker, idle.consumer);
  assert.equal((await queue.getJob(long.id))?.worker, busy.consumer);
});

test('stopping a busy worker puts its prefetched attempts back at once, uncounted, and nothing runs twice', async () => {
  // A grace period the running long jobs finish within: only the prefetched ones go back.
  const busy = worker({ maxJobs: 2, graceMs: 5000 });
  await busy.ready;
  // Short jobs teach the worker to prefetch; the long ones queued behind them are partly prefetched.
  const quick = await Promise.all(Array.from({ length: 300 }, (_, i) => queue.enqueue(echo, { value: `q${i}` })));
  // Long enough that a loaded machine still sees them prefetched before the first ones end.
  const long = await Promise.all(Array.from({ length: 6 }, () => queue.enqueue(nap, { ms: 2000 })));
  await Promise.all(quick.map((j) => settled(j.id)));
  await until(async () => (await Promise.all(long.map((j) => statusOf(j.id)))).filter((s) => s === 'in_progress').length > 2);
  const runs = async (id: string) => redis.lLen(`runs:${id}`);
  let prefetched = 0;
  for (const j of long) if ((await statusOf(j.id)) === 'in_progress' && (await runs(j.id)) === 0) prefetched++;
  assert.ok(prefetched > 0, 'some long jobs are owned by the busy worker without running yet');
  await busy.stop();
  for (const j of long) {
    const record = await queue.getJob(j.id);
    assert.ok(record?.status === 'complete' || (record?.status === 'queued' && record.attempt === 0), `${record?.status} ${record?.attempt}`);
  }
  await worker().ready;
  await Promise.all(long.map((j) => settled(j.id)));
  for (const j of long) {
    assert.equal(await statusOf(j.id), 'complete');
    assert.equal(await runs(j.id), 1);
  }
});

test('consumers leave the group: a stopped worker at once, a vanished one once idle past twice the lease', async () => {
  const consumers = async () => (await redis.xInfoConsumers(queue.keys.stream, 'workers')).map((c) => c.name);
  const leaving = worker();
  await leaving.ready;
  await settled((await queue.enqueue(echo, { value: 'x' })).id);
  // A worker that read once and vanished (its process killed with nothing pending).
  await redis.sendCommand(['XGROUP', 'CREATECONSUMER', queue.keys.stream, 'workers', 'ghost']);
  assert.ok((await consumers()).includes('ghost'));
  await until(async () => !(await consumers()).includes('ghost'), 15_000, 'the idle consumer to be removed');
  // An idle live worker may be pruned too (nothing pending): its next delivery brings its consumer back.
  await settled((await queue.enqueue(echo, { value: 'y' })).id);
  assert.ok((await consumers()).includes(leaving.consumer));
  await leaving.stop();
  assert.ok(!(await consumers()).includes(leaving.consumer), 'a stopped worker leaves at once');
});

test('a job whose workers keep dying is re-queued with its tries counted, then fails into the dead letters', async () => {
  const k = queue.keys;
  const job = await queue.enqueue(flaky, { failures: 0 });
  await queue.ensureGroup();
  // Three attempts started by a worker that dies each time: read and started as "ghost", never settled.
  for (let attempt = 1; attempt <= flaky.maxTries; attempt++) {
    const read = await redis.xReadGroup(k.group, 'ghost', { key: k.stream, id: '>' }, { COUNT: 1 });
    const entry = (read as { messages: { id: string }[] }[])[0].messages[0].id;
    const started = await runScript<unknown[]>(redis, SCRIPTS.startJobs, [k.stream, k.dead, k.stats, k.listeners], [
      k.group, k.jobPrefix, 'ghost', String(clock.now()), '100', '0', k.base, queue.retention, queue.rateLimit, entry, job.id, '',
    ]);
    assert.equal(started[4], attempt);
    // Its entry idles past a lease of 0 ms: any worker's check puts the job back under a new entry.
    assert.deepEqual(await runScript(redis, SCRIPTS.requeueStalled, [k.stream], [k.group, 'finder', '0', k.jobPrefix, '1000', String(clock.now()), k.base]), [1, 1]);
    const record = await queue.getJob(job.id);
    assert.deepEqual([record?.status, record?.attempt], ['queued', attempt], 'the lost attempt counts as a try');
    assert.notEqual(await redis.hGet(k.job(job.id), 'entry'), entry);
  }
  await worker().ready;
  await settled(job.id);
  const record = await queue.getJob(job.id);
  assert.equal(record?.status, 'failed');
  assert.match(record?.error ?? '', /lease expired on each of 3 tries/);
  assert.equal(await redis.lLen(`runs:${job.id}`), 0, 'no fourth attempt ran');
  assert.equal((await queue.stats()).dead, 1);
});

test('cron expressions: fields, steps, ranges and the next tick', () => {
  const every5 = parseCron('*/5 * * * *');
  assert.equal(cronNext(every5, Date.UTC(2026, 0, 1, 10, 2, 30)), Date.UTC(2026, 0, 1, 10, 5, 0));
  const weekdays9 = parseCron('0 9 * * 1-5');
  assert.equal(cronNext(weekdays9, Date.UTC(2026, 0, 2, 9, 0, 0)), Date.UTC(2026, 0, 5, 9, 0, 0), 'Friday 9:00 → Monday 9:00');
  const seconds = parseCron('*/10 * * * * *');
  assert.equal(cronNext(seconds, Date.UTC(2026, 0, 1, 0, 0, 5)), Date.UTC(2026, 0, 1, 0, 0, 10));
  assert.throws(() => parseCron('61 * * * *'), /out of range/);
  assert.throws(() => parseCron('* * *'), /5 or 6 fields/);
});

test('with Redis down, enqueue fails fast with 503 instead of waiting', async () => {
  await server.kill();
  try {
    const started = Date.now();
    await assert.rejects(queue.enqueue(echo, { value: 'x' }), (err: HttpError) => err.status === 503);
    assert.ok(Date.now() - started < 2000, 'no waiting for a reconnect');
  } finally {
    await server.restart();
    await until(() => redis.isReady, 30_000, 'reconnect');
  }
  server.pause();
  try {
    await assert.rejects(queue.enqueue(echo, { value: 'x' }), (err: HttpError) => err.status === 503);
    // A burst against a hung Redis: the groups held back behind the calls in flight keep the same bound (2 s
    // here), counted from each enqueue, rather than waiting a full bound more.
    const started = Date.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => queue.enqueue(echo, { value: `b${i}` })));
    assert.ok(outcomes.every((o) => o.status === 'rejected' && (o.reason as HttpError).status === 503));
    assert.ok(Date.now() - started < 3000, `all answered within the bound, not twice it (${Date.now() - started} ms)`);
  } finally {
    server.resume();
  }
});

test('a busy worker keeps at most two settle calls out: what ends meanwhile goes in one grown batch', async () => {
  // Handlers that end when the test says, so that the jobs end in waves, each in an event-loop turn of its own.
  const gate: (() => void)[] = [];
  const gated = defineJob({ name: 'gated', payload: Type.Object({ i: Type.Integer() }), handler: () => new Promise<void>((resolve) => gate.push(resolve)) });
  const gatedQueue = createQueue({ redis, prefix: 'qb:', jobs: [gated], commandTimeoutMs: 2000 });
  const monitor = createClient({ url: server.url });
  await monitor.connect();
  const settles: number[] = [];
  await monitor.monitor((line) => {
    // A settle call carries 8 arguments per job after its 6 own and its 5 keys.
    const args = line.match(/"[^"]*"/g) ?? [];
    if (args[1] === `"${SCRIPTS.settleJobs.sha}"`) settles.push((args.length - 2 - 1 - 5 - 6) / 8);
  });
  try {
    for (let i = 0; i < 100; i++) await gatedQueue.enqueue(gated, { i });
    const w = startWorker({ queue: gatedQueue, consumer: 'batcher', log, leaseMs: 10_000, graceMs: 500, blockMs: 100, maxJobs: 100 });
    workers.push(w);
    await until(() => gate.length === 100, 30_000, '100 handlers running');
    server.pause();
    for (let wave = 0; wave < 4; wave++) {
      for (const release of gate.splice(0, 25)) release();
      // Two turns: the wave's handlers end, then its settle is sent or held back.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
    server.resume();
    await until(async () => Number(await redis.hGet(gatedQueue.keys.stats, 'processed')) === 100, 30_000, '100 jobs complete');
    await until(() => settles.reduce((a, b) => a + b, 0) === 100, 10_000, 'the monitor to show every settle');
    assert.deepEqual(settles, [25, 25, 50], 'two waves out at once, the other two in one batch once one answered');
  } finally {
    await monitor.close().catch(() => monitor.destroy());
  }
});
