// Priorities against a real Redis: the weighted pick counted start by start (4 high : 2 normal : 1 low while
// every level has jobs waiting), low jobs running while high ones keep arriving, and pause, drain, the operator's
// counts and listings, promotion and the recovery of stalled entries on every level; a group's parked jobs handed
// its freed slots by the same cycle, with three workers competing for them.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, defineJob, QueueOperator, startWorker, type JobHandle, type Queue, type Worker } from '../src/queue/index.ts';
import { PRIORITIES, type Priority } from '../src/queue/keys.ts';
import { runScript, SCRIPTS } from '../src/queue/scripts.ts';
import { until } from './support/queue.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let queue: Queue;
let operator: QueueOperator;
const log = createLogger('silent');
const workers: Worker[] = [];

/** Records the order in which jobs start: RPUSH started <level>:<n>. */
const step = defineJob({
  name: 'test.step',
  payload: Type.Object({ level: Type.String(), n: Type.Integer() }),
  handler: async ({ level, n }, ctx) => {
    await ctx.redis.rPush('started', `${level}:${n}`);
    return null;
  },
});
const urgent = defineJob({ name: 'test.urgent', payload: Type.Object({}), priority: 'high', handler: async () => null });
/**
 * One at a time in the group `line`: records its start in `started` and how many of the group ran then in `seen`;
 * the holder (n = -1) runs until the key `open` is set.
 */
const inLine = defineJob({
  name: 'test.inline',
  payload: Type.Object({ level: Type.String(), n: Type.Integer() }),
  group: () => 'line',
  groupConcurrency: 1,
  handler: async ({ level, n }, ctx) => {
    await ctx.redis.rPush('seen', String(await ctx.redis.incr('running')));
    await ctx.redis.rPush('started', `${level}:${n}`);
    while (n === -1 && (await ctx.redis.get('open')) === null) await new Promise((resolve) => setTimeout(resolve, 10));
    await ctx.redis.decr('running');
    return null;
  },
});

function worker(maxJobs: number): Worker {
  const w = startWorker({ queue, consumer: `w${workers.length}`, log, maxJobs, leaseMs: 2000, graceMs: 500, blockMs: 100, promoteEveryMs: 10 });
  workers.push(w);
  return w;
}

const enqueueEach = (count: number, levels: readonly Priority[] = PRIORITIES): Promise<JobHandle[]> =>
  Promise.all(levels.flatMap((priority) => Array.from({ length: count }, (_, n) => queue.enqueue(step, { level: priority, n }, { priority }))));

/** Starts up to `read` jobs as the consumer `ghost` (a worker that never settles them); their payloads in order. */
async function startAsGhost(read: number): Promise<{ level: string; n: number }[]> {
  const k = queue.keys;
  const started = await runScript<(string | number)[]>(redis, SCRIPTS.startJobs, [k.stream, k.dead, k.stats, k.listeners], [
    k.group, k.jobPrefix, 'ghost', String(Date.now()), '100', String(read), k.base, queue.retention, queue.rateLimit,
  ]);
  const payloads: { level: string; n: number }[] = [];
  for (let i = 0; i < started.length; i += 5) payloads.push(JSON.parse(started[i + 3] as string));
  return payloads;
}

const count = (started: { level: string }[]) => Object.fromEntries(PRIORITIES.map((p) => [p, started.filter((s) => s.level === p).length]));

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: [step, urgent, inLine], commandTimeoutMs: 2000 });
  operator = new QueueOperator(queue);
});
beforeEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await server.flush();
  await queue.ensureGroup();
});
after(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await closeRedis(redis);
  await server.stop();
});

test('with every level backlogged, starts follow the cycle (4 high : 2 normal : 1 low), counted after each call; oldest first per level', async () => {
  await enqueueEach(70);
  const order: { level: string; n: number }[] = [];
  // Reads of uneven sizes: the cycle's place carries over from call to call, so after each call the starts so far
  // are exactly the cycle's first turns (high, normal, high, low, high, normal, high, and again).
  const cycle: Priority[] = ['high', 'normal', 'high', 'low', 'high', 'normal', 'high'];
  for (const read of [3, 5, 1, 7, 4, 6, 2, 7, 7, 7, 7, 7, 7]) {
    order.push(...await startAsGhost(read));
    const turns = Array.from({ length: order.length }, (_, t) => ({ level: cycle[t % 7] }));
    assert.deepEqual(count(order), count(turns), `after ${order.length} starts`);
  }
  assert.equal(order.length, 70);
  assert.deepEqual(count(order), { high: 40, normal: 20, low: 10 });
  for (const p of PRIORITIES) {
    const ns = order.filter((s) => s.level === p).map((s) => s.n);
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `${p}: oldest first`);
  }
});

test('a level with nothing waiting gives its turns to the highest level that has some', async () => {
  await enqueueEach(30, ['high', 'low']);
  const order = await startAsGhost(14);
  assert.deepEqual(count(order), { high: 12, normal: 0, low: 2 }, 'normal\'s turns went to high; low kept 1 in 7');
  await enqueueEach(5, ['low']);
  const rest = [];
  for (let i = 0; i < 10; i++) rest.push(...await startAsGhost(7));
  assert.deepEqual(count(rest), { high: 18, normal: 0, low: 33 }, 'once high ran out, low took every turn');
});

test('low jobs run while high ones keep arriving', async () => {
  // Behind a high backlog: first in, first out would run them last, a strict priority never.
  await enqueueEach(100, ['high']);
  const lows = await enqueueEach(10, ['low']);
  let fed = 0;
  let feeding = true;
  // Keeps high jobs arriving faster than one worker runs them.
  const feeder = (async () => {
    while (feeding) {
      await Promise.all(Array.from({ length: 20 }, () => queue.enqueue(step, { level: 'high', n: 1000 + fed++ }, { priority: 'high' })));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  worker(2);
  try {
    await until(async () => (await Promise.all(lows.map((j) => queue.getJob(j.id)))).every((j) => j?.status === 'complete'), 30_000, 'every low job');
  } finally {
    feeding = false;
    await feeder;
  }
  const started = await redis.lRange('started', 0, -1);
  const lastLow = started.findLastIndex((s) => s.startsWith('low:'));
  const highBefore = started.slice(0, lastLow + 1).filter((s) => s.startsWith('high:')).length;
  // 6 high per low while normal is empty (its turns go to high), plus the first read's share: far from all of them.
  assert.ok(highBefore <= 6 * 10 + 20, `${highBefore} high jobs started before the last low one`);
  assert.ok((await queue.stats()).queuedByPriority.high > 0, 'high jobs were still waiting when every low one had run');
});

test('priority: the definition\'s default, the enqueue\'s override, a bad one refused', async () => {
  const high = await queue.enqueue(urgent, {});
  const low = await queue.enqueue(urgent, {}, { priority: 'low' });
  const normal = await queue.enqueue(step, { level: 'normal', n: 0 });
  assert.equal(await redis.hGet(queue.keys.job(high.id), 'prio'), 'high');
  assert.equal(await redis.hGet(queue.keys.job(low.id), 'prio'), 'low');
  assert.equal(await redis.hGet(queue.keys.job(normal.id), 'prio'), null, 'normal jobs carry no field');
  assert.deepEqual([(await operator.job(high.id))?.priority, (await operator.job(normal.id))?.priority], ['high', 'normal'], 'operators see it');
  assert.deepEqual(await Promise.all(PRIORITIES.map((p) => redis.xLen(queue.keys.streams[p]))), [1, 1, 1]);
  await assert.rejects(queue.enqueue(step, { level: 'x', n: 0 }, { priority: 'urgent' as Priority }), TypeError);
  assert.throws(() => defineJob({ name: 'x', payload: Type.Object({}), priority: 'top' as Priority, handler: async () => null }), /priority/);
});

test('pause, the operator\'s counts and listings, drain, promote and abort work on every level', async () => {
  await operator.pause();
  worker(10);
  const jobs = await enqueueEach(3);
  await new Promise((resolve) => setTimeout(resolve, 600));
  for (const job of jobs) assert.equal((await queue.getJob(job.id))?.status, 'queued', 'a paused queue starts no level');
  const overview = await operator.overview();
  assert.equal(overview.counts.queued, 9);
  assert.deepEqual((await queue.stats()).queuedByPriority, { high: 3, normal: 3, low: 3 });
  const listed: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await operator.list('queued', { limit: 4, cursor });
    listed.push(...page.jobs.map((j) => j.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  assert.deepEqual(listed.sort(), jobs.map((j) => j.id).sort(), 'every queued job listed once, whatever its level');

  const deferred = await queue.enqueue(step, { level: 'low', n: 99 }, { priority: 'low', delayMs: 60_000 });
  assert.equal(await operator.promote(deferred.id), 1);
  assert.equal(await redis.hGet(queue.keys.job(deferred.id), 'status'), 'queued');
  assert.equal((await queue.stats()).queuedByPriority.low, 4, 'promoted into its own level');
  const entry = (await redis.hGet(queue.keys.job(jobs[0].id), 'entry'))!;
  assert.equal(await queue.abort(jobs[0].id), 'aborted');
  assert.deepEqual(await redis.xRange(queue.keys.streams.high, entry, entry), [], 'an aborted high job leaves the high stream');
  assert.deepEqual((await queue.stats()).queuedByPriority, { high: 2, normal: 3, low: 4 }, 'and is counted no more');

  assert.deepEqual(await operator.drain(), { deleted: 9, remaining: 0 });
  for (const p of PRIORITIES) assert.equal(await redis.xLen(queue.keys.streams[p]), 0, `${p} drained`);
  await operator.resume();
  const after = await enqueueEach(2);
  await until(async () => (await Promise.all(after.map((j) => queue.getJob(j.id)))).every((j) => j?.status === 'complete'), 10_000, 'jobs after resume');
  // Settled entries are acknowledged on their own stream, and each stream trimmed: nothing stays behind.
  await until(async () => (await Promise.all(PRIORITIES.map((p) => redis.xLen(queue.keys.streams[p])))).every((n) => n === 0), 5000, 'streams trimmed');
});

test('stalled entries of every level are re-queued on their own stream and then run', async () => {
  const jobs = await enqueueEach(2);
  assert.equal((await startAsGhost(6)).length, 6);
  assert.equal((await operator.list('in_progress')).jobs.length, 6, 'running jobs of every level are listed');
  const k = queue.keys;
  const requeued = await runScript<[number, number]>(redis, SCRIPTS.requeueStalled, [k.stream], [k.group, 'finder', '0', k.jobPrefix, '1000', String(Date.now()), k.base]);
  assert.deepEqual(requeued, [6, 6]);
  assert.deepEqual((await queue.stats()).queuedByPriority, { high: 2, normal: 2, low: 2 });
  worker(4);
  await until(async () => (await Promise.all(jobs.map((j) => queue.getJob(j.id)))).every((j) => j?.status === 'complete'), 10_000, 'every re-queued job');
  assert.equal((await queue.stats()).inProgress, 0);
});

/** Parks jobs of the group `line` behind a running holder (three workers reading), in the given levels' order. */
async function parkBehindHolder(levels: Priority[]): Promise<{ holder: JobHandle; parked: JobHandle[] }> {
  for (let i = 0; i < 3; i++) worker(4);
  const holder = await queue.enqueue(inLine, { level: 'holder', n: -1 });
  await until(async () => (await queue.getJob(holder.id))?.status === 'in_progress', 10_000, 'the holder to run');
  const parked: JobHandle[] = [];
  for (const [n, priority] of levels.entries()) parked.push(await queue.enqueue(inLine, { level: priority, n }, { priority }));
  await until(async () => (await queue.stats()).waiting === levels.length, 10_000, 'every job parked');
  return { holder, parked };
}

const complete = (jobs: JobHandle[]) => until(async () => (await Promise.all(jobs.map((j) => j.status()))).every((s) => s === 'complete'), 20_000, 'every job of the group');
/** Keys of the group machinery left in Redis (none once nothing of the group runs or waits). */
const groupKeys = async () => [...await redis.keys('qt:q:{default}:group-*'), ...await redis.keys('qt:q:{default}:waiting')];

test('a group\'s freed slot goes to its parked jobs by the cycle (4 high : 2 normal : 1 low), whatever their arrival order', async () => {
  // Arrival order the reverse of priority: low first. Parked, they leave the stream; each freed slot is handed to
  // one of them by the group's own cycle, one at a time (concurrency 1), with three workers competing.
  const levels: Priority[] = [...Array<Priority>(5).fill('low'), ...Array<Priority>(10).fill('normal'), ...Array<Priority>(20).fill('high')];
  const { holder, parked } = await parkBehindHolder(levels);
  await redis.set('open', '1');
  await complete([holder, ...parked]);
  const started = (await redis.lRange('started', 0, -1)).slice(1).map((s) => s.split(':')[0]);
  const cycle: Priority[] = ['high', 'normal', 'high', 'low', 'high', 'normal', 'high'];
  assert.deepEqual(started, Array.from({ length: 35 }, (_, t) => cycle[t % 7]), 'hand-offs in the cycle\'s order');
  for (const p of PRIORITIES) {
    const ns = (await redis.lRange('started', 0, -1)).filter((s) => s.startsWith(`${p}:`)).map((s) => Number(s.split(':')[1]));
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `${p}: oldest first`);
  }
  assert.deepEqual(new Set(await redis.lRange('seen', 0, -1)), new Set(['1']), 'one of the group at a time');
  assert.deepEqual(await groupKeys(), [], 'no slot, parked job or turn left behind');
});

test('a group\'s empty line gives its turns to the highest line with jobs; a parked job that leaves takes its place along', async () => {
  const { holder, parked } = await parkBehindHolder(['low', 'low', 'low', ...Array<Priority>(6).fill('high')]);
  assert.equal(await queue.abort(parked[0].id), 'aborted', 'a parked job aborted');
  await redis.set('open', '1');
  await complete([holder, ...parked.slice(1)]);
  const started = (await redis.lRange('started', 0, -1)).slice(1).map((s) => s.split(':')[0]);
  // Normal's turns (2nd and 6th of the cycle) went to high; low kept its 4th and, once high ran out, every turn.
  assert.deepEqual(started, ['high', 'high', 'high', 'low', 'high', 'high', 'high', 'low']);
  assert.deepEqual(await groupKeys(), []);
});

test('the group\'s place in its cycle goes when its last parked jobs leave (abort, delete) rather than run', async () => {
  const { holder, parked } = await parkBehindHolder(['normal', 'high', 'low']);
  await operator.pause();
  await redis.set('open', '1');
  // The holder ends: its slot goes to the high job (queued, the queue paused), and the group's turn moves on.
  await until(async () => (await holder.status()) === 'complete', 10_000, 'the holder to end');
  assert.deepEqual([await parked[1].status(), (await queue.stats()).waiting], ['queued', 2]);
  assert.equal(await redis.get(queue.keys.groupTurn('line')), '1');
  assert.equal(await queue.abort(parked[0].id), 'aborted');
  assert.deepEqual(await operator.delete([parked[2].id]), { deleted: 1, running: 0 });
  assert.equal(await redis.exists(queue.keys.groupTurn('line')), 0, 'nothing parked: no turn kept');
  await operator.resume();
  await complete([parked[1]]);
  assert.deepEqual(await groupKeys(), []);
});
