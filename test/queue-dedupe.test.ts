// Debounce and throttle against a real Redis: what a dedupe key resolves to while its job waits, runs and after it
// ends; the debounce's pushed-back start and its cap; the key of a failed job an operator retries or replays (also
// once its record expired: the dead letter carries the job's priority, group and key);
// several producers at once; owners kept apart; over HTTP; and a 503 that applied nothing when Redis hangs or is
// killed mid-enqueue.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { HttpError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp, createRouter } from '../src/router/index.ts';
import { createQueue, defineJob, QueueOperator, startWorker, type JobHandle, type Queue, type Worker } from '../src/queue/index.ts';
import { runScript, SCRIPTS } from '../src/queue/scripts.ts';
import { testClient } from '../src/testing/index.ts';
import { until } from './support/queue.ts';
import { nap, TEST_JOBS } from './support/queue-jobs.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let queue: Queue;
const log = createLogger('silent');
const workers: Worker[] = [];
// The queue's time stands still unless a test moves it, so due dates compare exactly.
let frozenAt = Date.now();
const clock = { now: () => frozenAt, elapse: (ms: number) => void (frozenAt += ms) };

/** Debounced per user: the digest goes out 1 s after the user's last change, at most 2.5 s after the first. */
const digest = defineJob({
  name: 'test.digest',
  payload: Type.Object({ user: Type.String(), text: Type.String() }),
  result: Type.Object({ text: Type.String() }),
  dedupe: { key: (p) => p.user, mode: 'debounce', delayMs: 1000, maxWaitMs: 2500 },
  handler: async ({ user, text }, ctx) => {
    await ctx.redis.rPush(`digests:${user}`, text);
    return { text };
  },
});

/** Throttled per user: one sync at a time; a request while one waits or runs joins it. */
const sync = defineJob({
  name: 'test.sync',
  payload: Type.Object({ user: Type.String(), ms: Type.Integer({ minimum: 0 }) }),
  dedupe: { key: (p) => p.user, mode: 'throttle' },
  handler: async ({ ms }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await ctx.redis.incr(`syncs:${ctx.jobId}`);
    return null;
  },
});

/** Throttled per user, one try: fails for good while the key `down` is set (an operator then runs it again). */
const push = defineJob({
  name: 'test.push',
  payload: Type.Object({ user: Type.String() }),
  maxTries: 1,
  dedupe: { key: (p) => p.user, mode: 'throttle' },
  handler: async (_p, ctx) => {
    if (await ctx.redis.exists('down')) throw new Error('provider down');
    await ctx.redis.incr(`pushes:${ctx.jobId}`);
    return null;
  },
});

/**
 * High priority, one at a time in the group `g`, throttled per user, one try: fails for good while the key `down` is
 * set; records how many of the group ran as it started in `seen`, and with `hold` runs until the key `open` is set.
 */
const guarded = defineJob({
  name: 'test.guarded',
  payload: Type.Object({ user: Type.String(), hold: Type.Boolean() }),
  maxTries: 1,
  priority: 'high',
  group: () => 'g',
  groupConcurrency: 1,
  dedupe: { key: (p) => p.user, mode: 'throttle' },
  handler: async ({ hold }, ctx) => {
    if (await ctx.redis.exists('down')) throw new Error('provider down');
    await ctx.redis.rPush('seen', String(await ctx.redis.incr('running')));
    while (hold && (await ctx.redis.get('open')) === null) await new Promise((resolve) => setTimeout(resolve, 10));
    await ctx.redis.decr('running');
    return null;
  },
});

const JOBS = [...TEST_JOBS, digest, sync, push, guarded];

function worker(): Worker {
  const w = startWorker({ queue, consumer: `w${workers.length}`, log, leaseMs: 2000, graceMs: 500, blockMs: 100, promoteEveryMs: 10 });
  workers.push(w);
  return w;
}

const statusOf = async (id: string) => (await queue.getJob(id))?.status ?? 'not_found';
const payloadOf = async (id: string) => JSON.parse((await redis.hGet(queue.keys.job(id), 'payload')) ?? 'null');
const throttled = (job: JobHandle, id: string, status: string) => {
  assert.deepEqual([job.id, job.created, job.deduped, job.initialStatus], [id, false, 'throttled', status]);
};

before(async () => {
  // Append-only, so a Redis killed mid-enqueue comes back with what it had written.
  server = await startTestRedis({ appendonly: true });
  redis = createRedis({ url: server.url, commandTimeoutMs: 500, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: JOBS, commandTimeoutMs: 1000, clock });
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

test('throttle: while its job waits or runs, an enqueue resolves to it and drops its payload; once it ended, a new job', async () => {
  const first = await queue.enqueue(sync, { user: 'u1', ms: 400 });
  assert.deepEqual([first.created, first.deduped, first.initialStatus], [true, null, 'queued']);
  throttled(await queue.enqueue(sync, { user: 'u1', ms: 1 }), first.id, 'queued');
  assert.deepEqual(await payloadOf(first.id), { user: 'u1', ms: 400 }, 'the waiting job keeps its payload');
  const other = await queue.enqueue(sync, { user: 'u2', ms: 1 });
  assert.notEqual(other.id, first.id, 'another key, another job');

  await worker().ready;
  await until(async () => (await statusOf(first.id)) === 'in_progress', 10_000, 'the sync to run');
  throttled(await queue.enqueue(sync, { user: 'u1', ms: 1 }), first.id, 'in_progress');
  await until(async () => (await statusOf(first.id)) === 'complete', 10_000, 'the sync to end');
  const next = await queue.enqueue(sync, { user: 'u1', ms: 1 });
  assert.deepEqual([next.created, next.deduped], [true, null]);
  assert.notEqual(next.id, first.id);
  await until(async () => (await statusOf(next.id)) === 'complete', 10_000, 'the next sync');
  assert.equal(await redis.get(`syncs:${first.id}`), '1', 'the throttled enqueues ran nothing');
  assert.equal(await redis.exists(queue.keys.dedupe('', sync.name, 'u1')), 0, 'an ended job lets its key go');
});

test('throttle by an enqueue option: a deferred job holds its key until due; abort and delete let the key go', async () => {
  const key = { key: 'nightly', mode: 'throttle' } as const;
  const deferred = await queue.enqueue(nap, { ms: 1 }, { delayMs: 60_000, dedupe: key });
  assert.equal(deferred.initialStatus, 'deferred');
  throttled(await queue.enqueue(nap, { ms: 2 }, { dedupe: key }), deferred.id, 'deferred');
  assert.equal(await queue.abort(deferred.id), 'aborted');
  const again = await queue.enqueue(nap, { ms: 3 }, { dedupe: key });
  assert.ok(again.created && again.id !== deferred.id, 'an aborted job no longer throttles');
  assert.deepEqual(await new QueueOperator(queue).delete([again.id]), { deleted: 1, running: 0 });
  assert.ok((await queue.enqueue(nap, { ms: 4 }, { dedupe: key })).created, 'nor a deleted one');
  const plain = await queue.enqueue(nap, { ms: 5 }, { dedupe: null });
  assert.ok(plain.created && plain.deduped === null, 'dedupe: null enqueues without a key');
  await assert.rejects(queue.enqueue(nap, { ms: 1 }, { dedupe: { key: '', mode: 'throttle' } }), TypeError);
  await assert.rejects(queue.enqueue(nap, { ms: 1 }, { dedupe: { key: 'k', mode: 'debounce' } }), /delayMs/);
  await assert.rejects(queue.enqueue(digest, { user: 'u', text: 't' }, { delayMs: 5 }), /no delayMs or runAt/);
  assert.throws(() => defineJob({ name: 'x', payload: Type.Object({}), handler: async () => null, dedupe: { key: () => 'k', mode: 'debounce', delayMs: 100, maxWaitMs: 50 } }), /maxWaitMs/);
});

for (const rerun of ['retry', 'replay'] as const) {
  test(`${rerun}: a failed job queued again takes its dedupe key back unless another live job holds it`, async () => {
    const operator = new QueueOperator(queue);
    await redis.set('down', '1');
    await worker().ready;
    const lone = await queue.enqueue(push, { user: 'lone' });
    const ousted = await queue.enqueue(push, { user: 'taken' });
    await until(async () => (await statusOf(lone.id)) === 'failed' && (await statusOf(ousted.id)) === 'failed', 10_000, 'both to fail');
    // A failed job holds no key: the next enqueue of 'taken' is a new job, which holds it.
    await operator.pause();
    const holder = await queue.enqueue(push, { user: 'taken' });
    assert.ok(holder.created);
    if (rerun === 'retry') assert.deepEqual(await operator.retry([lone.id, ousted.id]), { retried: 2, skipped: 0 });
    else assert.equal(await queue.replayDead(), 2);
    assert.deepEqual([await statusOf(lone.id), await statusOf(ousted.id)], ['queued', 'queued']);

    throttled(await queue.enqueue(push, { user: 'lone' }), lone.id, 'queued');
    throttled(await queue.enqueue(push, { user: 'taken' }), holder.id, 'queued');
    const shown = await Promise.all([lone, ousted, holder].map(async (j) => {
      const detail = (await operator.job(j.id))!;
      return [detail.dedupe, detail.holdsDedupe];
    }));
    assert.deepEqual(shown, [
      [{ mode: 'throttle', key: 'lone' }, true],
      [{ mode: 'throttle', key: 'taken' }, false],
      [{ mode: 'throttle', key: 'taken' }, true],
    ], 'operators see which job each key resolves to');
    // The job that ran without its key ends: the key stays with its holder.
    assert.deepEqual(await operator.delete([ousted.id]), { deleted: 1, running: 0 });
    throttled(await queue.enqueue(push, { user: 'taken' }), holder.id, 'queued');

    await redis.del('down');
    await operator.resume();
    await until(async () => (await statusOf(lone.id)) === 'complete' && (await statusOf(holder.id)) === 'complete', 10_000, 'both to run');
    assert.deepEqual([await redis.get(`pushes:${lone.id}`), await redis.get(`pushes:${holder.id}`)], ['1', '1'], 'each ran once');
    for (const user of ['lone', 'taken']) assert.equal(await redis.exists(queue.keys.dedupe('', push.name, user)), 0, `${user}: let go once its job ended`);
  });
}

/** The dead-letter stream's letters as field maps, oldest first. */
async function deadLetters(): Promise<Record<string, string>[]> {
  const letters = (await redis.sendCommand(['XRANGE', queue.keys.dead, '-', '+'])) as [string, string[]][];
  return letters.map(([, list]) => Object.fromEntries(list.flatMap((v, i) => (i % 2 === 0 ? [[v, list[i + 1]]] : []))));
}

// Both ways a job fails for good: its handler's last try fails (settleJobs-5), or its lease expired on each try
// (startJobs-4, as a worker finds it queued again past its tries).
for (const route of ['handler', 'lease'] as const) {
  test(`dead letter (${route}): a replay after the job's record expired runs it at its priority, in its group, with its dedupe key`, async () => {
    const operator = new QueueOperator(queue);
    const plain = await queue.enqueue(push, { user: 'p' }, { dedupe: null });
    const failed = await queue.enqueue(guarded, { user: 'u', hold: false });
    if (route === 'handler') {
      await redis.set('down', '1');
      await worker().ready;
      await until(async () => (await statusOf(failed.id)) === 'failed' && (await statusOf(plain.id)) === 'failed', 10_000, 'both to fail');
      await redis.del('down');
    } else {
      // Each try's lease ran out: the job is queued again with its tries used up, and the next start fails it.
      for (const job of [plain, failed]) await redis.hSet(queue.keys.job(job.id), 'attempt', '1');
      const k = queue.keys;
      await queue.ensureGroup();
      assert.deepEqual(await runScript(redis, SCRIPTS.startJobs, [k.stream, k.dead, k.stats, k.listeners], [
        k.group, k.jobPrefix, 'ghost', String(Date.now()), '100', '10', k.base, queue.retention, queue.rateLimit,
      ]), []);
      assert.deepEqual([await statusOf(plain.id), await statusOf(failed.id)], ['failed', 'failed']);
      await worker().ready;
    }
    const dedupeKey = queue.keys.dedupe('', guarded.name, 'u');
    const byId = Object.fromEntries((await deadLetters()).map((l) => [l.id, l]));
    assert.deepEqual(Object.keys(byId[plain.id]).sort(), ['error', 'failed_at', 'id', 'keep_s', 'max_tries', 'name', 'payload'], 'a job without traits: a letter without them');
    assert.deepEqual([byId[failed.id].prio, byId[failed.id].group, byId[failed.id].group_max, byId[failed.id].dedupe], ['high', 'g', '1', `t${dedupeKey}`]);

    // The record expires; the operator's dead row shows the letter's traits.
    await redis.del([queue.keys.job(failed.id), queue.keys.job(plain.id)]);
    const rows = (await operator.list('dead')).jobs;
    const traitsOf = (id: string) => rows.filter((j) => j.id === id).map((j) => [j.priority, j.group, j.dedupe]);
    assert.deepEqual(traitsOf(failed.id), [['high', 'g', { mode: 'throttle', key: 'u' }]]);
    assert.deepEqual(traitsOf(plain.id), [['normal', null, null]]);

    // Another job of the group holds its only slot while the letter is replayed.
    const holder = await queue.enqueue(guarded, { user: 'h', hold: true });
    await until(async () => (await statusOf(holder.id)) === 'in_progress', 10_000, 'the holder to run');
    await operator.pause();
    assert.equal(await queue.replayDead(), 2);
    const onStream = async (level: 'high' | 'normal') =>
      ((await redis.xRange(queue.keys.streams[level], '-', '+')) ?? []).some((e) => e?.message.id === failed.id);
    assert.deepEqual([await onStream('high'), await onStream('normal')], [true, false], 'queued on the high stream');
    throttled(await queue.enqueue(guarded, { user: 'u', hold: false }), failed.id, 'queued');
    const detail = (await operator.job(failed.id))!;
    assert.deepEqual([detail.priority, detail.group, detail.groupConcurrency, detail.dedupe, detail.holdsDedupe],
      ['high', 'g', 1, { mode: 'throttle', key: 'u' }, true]);
    const bare = (await operator.job(plain.id))!;
    assert.deepEqual([bare.priority, bare.group, bare.dedupe], ['normal', null, null]);

    // Read again, the replayed job finds its group full: it waits (parked) until the holder ends.
    await operator.resume();
    await until(async () => (await queue.stats()).waiting === 1, 10_000, 'the replayed job to be parked');
    assert.deepEqual((await operator.list('waiting')).jobs.map((j) => j.id), [failed.id]);
    await redis.set('open', '1');
    await until(async () => (await statusOf(failed.id)) === 'complete' && (await statusOf(holder.id)) === 'complete', 10_000, 'both to run');
    assert.deepEqual(await redis.lRange('seen', 0, -1), ['1', '1'], 'one job of the group at a time');
    assert.equal(await redis.exists(dedupeKey), 0, 'its end let the key go');
  });
}

test('debounce: each enqueue takes the new payload and pushes the start back, capped at maxWaitMs from the first; one run', async () => {
  const t0 = clock.now();
  const first = await queue.enqueue(digest, { user: 'ann', text: 'v1' });
  assert.deepEqual([first.created, first.initialStatus], [true, 'deferred']);
  const due = async () => (await queue.getJob(first.id))!.scheduledFor! - t0;
  assert.equal(await due(), 1000);
  // Each enqueue lands 600 ms after the last (on the queue's clock): the start moves to 1 s after it ...
  for (const [text, expected] of [['v2', 1600], ['v3', 2200], ['v4', 2500]] as const) {
    clock.elapse(600);
    const job = await queue.enqueue(digest, { user: 'ann', text });
    assert.deepEqual([job.id, job.created, job.deduped, job.initialStatus], [first.id, false, 'debounced', 'deferred']);
    // ... but never past 2.5 s after the first enqueue.
    assert.equal(await due(), expected, `start after ${text}`);
  }
  assert.deepEqual(await payloadOf(first.id), { user: 'ann', text: 'v4' });
  assert.equal(await redis.zScore(queue.keys.delayed, first.id), t0 + 2500, 'the schedule moved with it');

  await worker().ready;
  clock.elapse(1000);
  await until(async () => (await statusOf(first.id)) === 'complete', 10_000, 'the digest');
  assert.deepEqual(await redis.lRange('digests:ann', 0, -1), ['v4'], 'four enqueues, one run, the last payload');
  const next = await queue.enqueue(digest, { user: 'ann', text: 'v5' });
  assert.ok(next.created && next.id !== first.id, 'once it ran, a new job');
});

test('debounce of a job already queued (its cap had passed) takes it back to deferred, out of the stream', async () => {
  const operator = new QueueOperator(queue);
  const first = await queue.enqueue(digest, { user: 'bob', text: 'v1' });
  assert.equal(await operator.promote(first.id), 1);
  assert.equal(await statusOf(first.id), 'queued');
  assert.equal(await redis.xLen(queue.keys.stream), 1);
  const again = await queue.enqueue(digest, { user: 'bob', text: 'v2' });
  assert.deepEqual([again.id, again.deduped, again.initialStatus], [first.id, 'debounced', 'deferred']);
  assert.equal(await redis.xLen(queue.keys.stream), 0, 'its entry is gone');
  assert.equal(await redis.zCard(queue.keys.status('deferred')), 1, 'indexed as deferred again');
  // Past the cap, an enqueue only replaces the payload: a queued job stays queued.
  assert.equal(await operator.promote(first.id), 1);
  clock.elapse(3000);
  const late = await queue.enqueue(digest, { user: 'bob', text: 'v3' });
  assert.deepEqual([late.id, late.deduped, late.initialStatus], [first.id, 'debounced', 'queued']);
  assert.deepEqual(await payloadOf(first.id), { user: 'bob', text: 'v3' });
  await worker().ready;
  await until(async () => (await statusOf(first.id)) === 'complete', 10_000, 'the digest');
  assert.deepEqual(await redis.lRange('digests:bob', 0, -1), ['v3']);
});

test('concurrent enqueues from several producers resolve to one job, for throttle and for debounce', async () => {
  const producers = await Promise.all([0, 1, 2].map(async () => {
    const client = createRedis({ url: server.url, commandTimeoutMs: 500, log });
    await until(() => client.isReady);
    return { client, queue: createQueue({ redis: client, prefix: 'qt:', jobs: JOBS, commandTimeoutMs: 1000, clock }) };
  }));
  try {
    for (const job of [sync, digest] as const) {
      const handles = await Promise.all(producers.flatMap((p) => Array.from({ length: 30 }, (_, i) =>
        job === sync ? p.queue.enqueue(sync, { user: 'crowd', ms: 1 }) : p.queue.enqueue(digest, { user: 'crowd', text: `t${i}` }))));
      assert.equal(new Set(handles.map((h) => h.id)).size, 1, `${job.name}: one job`);
      assert.equal(handles.filter((h) => h.created).length, 1, `${job.name}: created once`);
      assert.equal(handles.filter((h) => h.deduped !== null).length, 89);
    }
    assert.equal(await redis.zCard(queue.keys.status('deferred')), 1, 'one digest waits');
    assert.equal(await redis.xLen(queue.keys.stream), 1, 'one sync is queued');
  } finally {
    await Promise.all(producers.map((p) => closeRedis(p.client)));
  }
});

test('owners are kept apart: the same key of another owner never resolves to your job', async () => {
  const a = await queue.enqueue(sync, { user: 'same', ms: 1 }, { owner: 'tenant-a' });
  const b = await queue.enqueue(sync, { user: 'same', ms: 1 }, { owner: 'tenant-b' });
  const none = await queue.enqueue(sync, { user: 'same', ms: 1 });
  assert.equal(new Set([a.id, b.id, none.id]).size, 3);
  assert.ok(a.created && b.created && none.created);
  throttled(await queue.enqueue(sync, { user: 'same', ms: 1 }, { owner: 'tenant-b' }), b.id, 'queued');
  // An owner whose name runs into the key cannot spell another owner's key.
  const tricky = await queue.enqueue(sync, { user: 'same', ms: 1 }, { owner: 'tenant-a:4:test' });
  assert.ok(tricky.created);
});

test('over HTTP: a route answers with the job an enqueue resolved to; Redis away → 503', async () => {
  const router = createRouter({ prefix: '/syncs' });
  router.post('/', {
    summary: 'Start a sync',
    headers: Type.Object({ 'x-tenant': Type.String() }),
    body: Type.Object({ user: Type.String() }),
    response: { 202: Type.Object({ id: Type.String(), status: Type.String(), deduped: Type.Union([Type.String(), Type.Null()]) }) },
  }, async (ctx) => {
    const job = await queue.enqueue(sync, { user: ctx.body.user, ms: 1 }, { owner: ctx.headers['x-tenant'], deadline: ctx.deadline.expiresAt });
    return ctx.reply(202, { id: job.id, status: job.initialStatus, deduped: job.deduped }, { location: `/v1/jobs/${job.id}` });
  });
  const app = createApp({ log, bodyLimitBytes: 1 << 16, responseValidation: true, onError: redisErrorAnswer });
  app.include(router, { prefix: '/v1' });
  const client = await testClient(app);
  try {
    const first = await client.post('/v1/syncs', { user: 'u' }, { headers: { 'x-tenant': 't1' } });
    assert.equal(first.status, 202);
    assert.equal(first.json().deduped, null);
    const again = await client.post('/v1/syncs', { user: 'u' }, { headers: { 'x-tenant': 't1' } });
    assert.deepEqual(again.json(), { id: first.json().id, status: 'queued', deduped: 'throttled' });
    assert.equal(again.headers.get('location'), `/v1/jobs/${first.json().id}`);
    const other = await client.post('/v1/syncs', { user: 'u' }, { headers: { 'x-tenant': 't2' } });
    assert.notEqual(other.json().id, first.json().id);
    server.pause();
    try {
      const refused = await client.post('/v1/syncs', { user: 'u' }, { headers: { 'x-tenant': 't3' } });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('content-type'), 'application/problem+json');
    } finally {
      server.resume();
    }
    await until(async () => (await redis.ping().catch(() => '')) === 'PONG', 10_000, 'redis back');
    assert.equal(await redis.exists(queue.keys.dedupe('t3', sync.name, 'u')), 0, 'the refused enqueue left no key');
  } finally {
    await client.close();
  }
});

test('Redis hung or killed mid-enqueue → 503, and nothing of the enqueue is applied', async () => {
  const first = await queue.enqueue(digest, { user: 'cy', text: 'v1' });
  const held = await queue.enqueue(sync, { user: 'cy', ms: 1 });
  const before = await redis.hGetAll(queue.keys.job(first.id));
  const snapshot = async () => ({
    digest: await redis.hGetAll(queue.keys.job(first.id)),
    delayed: await redis.zRangeWithScores(queue.keys.delayed, 0, -1),
    stream: await redis.xLen(queue.keys.stream),
    keys: (await redis.keys('qt:*')).sort(),
  });
  const was = await snapshot();
  assert.deepEqual(was.digest, before);

  // Hung: the call is written, Redis runs it only after the deadline has passed, and the script refuses it.
  server.pause();
  const hung = Promise.allSettled([queue.enqueue(digest, { user: 'cy', text: 'v2' }), queue.enqueue(sync, { user: 'new', ms: 1 })]);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  server.resume();
  for (const outcome of await hung) assert.equal(outcome.status === 'rejected' && (outcome.reason as HttpError).status, 503);
  assert.deepEqual(await snapshot(), was, 'the late call wrote nothing');

  // Killed: the call is written to a paused Redis, which dies without running it (SIGKILL while stopped: the
  // harness's kill resumes it first, and it could run the call in between) and comes back from its log.
  await redis.sendCommand(['CONFIG', 'SET', 'appendfsync', 'always']);
  const pid = Number(/process_id:(\d+)/.exec(String(await redis.sendCommand(['INFO', 'server'])))?.[1]);
  server.pause();
  const killed = queue.enqueue(digest, { user: 'cy', text: 'v3' });
  killed.catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.kill(pid, 'SIGKILL');
  await server.kill();
  // The call was sent and its connection dropped: Redis might have run it, so the 503 claims nothing.
  await assert.rejects(killed, (err: HttpError) => err.status === 503 && err.code === 'OUTCOME_UNKNOWN');
  await server.restart();
  await until(async () => (await redis.ping().catch(() => '')) === 'PONG', 30_000, 'redis back');
  assert.deepEqual(await snapshot(), was, 'the restarted Redis holds the state before the enqueue');
  throttled(await queue.enqueue(sync, { user: 'cy', ms: 1 }), held.id, 'queued');
});
