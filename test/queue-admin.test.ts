// The operator API over real sockets on the real Redis: operator auth (401/403/404), queue overview, jobs by
// status with paging and a name filter, job detail (attempts, logs, stack), what decides when a job runs (priority,
// group, dedupe key) in rows and detail, every action, pause, and the retention of finished jobs (count and age) kept by the scripts that finish them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp } from '../src/router/index.ts';
import { createAdminRouter, createQueue, defineJob, startWorker, type JobHandle, type Queue, type Worker } from '../src/queue/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { testClock } from './support/clock.ts';
import { until } from './support/queue.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const log = createLogger('silent');
const ADMIN = { 'x-api-key': 'operator-key' };
const TENANT = { 'x-api-key': 'tenant-key' };
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(t);
    reject(signal.reason);
  }, { once: true });
});

const echo = defineJob({ name: 'ops.echo', payload: Type.Object({ n: Type.Integer() }), handler: async ({ n }) => ({ n }) });
const other = defineJob({ name: 'ops.other', payload: Type.Object({ n: Type.Integer() }), handler: async ({ n }) => ({ n }) });
const boom = defineJob({
  name: 'ops.boom',
  payload: Type.Object({}),
  maxTries: 1,
  handler: async (_p, ctx) => {
    ctx.log.info('about to fail', { step: 1 });
    throw new Error('boom');
  },
});
const logged = defineJob({
  name: 'ops.logged',
  payload: Type.Object({}),
  maxTries: 2,
  backoff: { kind: 'fixed', baseMs: 10, jitter: 0 },
  handler: async (_p, ctx) => {
    ctx.log.info('attempt started', { attempt: ctx.attempt });
    await ctx.progress(50);
    ctx.log.warn('halfway');
    if (ctx.attempt === 1) throw new Error('first attempt fails');
    return { done: true };
  },
});
const nap = defineJob({
  name: 'ops.nap',
  payload: Type.Object({ ms: Type.Integer() }),
  handler: async ({ ms }, ctx) => {
    await sleep(ms, ctx.signal);
    return null;
  },
});
/** A tenant's report: two of a tenant at once, throttled per report. */
const report = defineJob({
  name: 'ops.report',
  payload: Type.Object({ tenant: Type.String(), ref: Type.String() }),
  group: (p) => p.tenant,
  groupConcurrency: 2,
  dedupe: { key: (p) => p.ref, mode: 'throttle' },
  handler: async () => null,
});
const JOBS = [echo, other, boom, logged, nap, report];

let server: TestRedis;
let redis: Redis;
let queue: Queue;
let aged: Queue;
const clock = testClock();
let api: TestClient;
let off: TestClient;
const workers: Worker[] = [];

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'ops:', name: 'main', jobs: JOBS, retention: { complete: { count: 30 }, failed: { count: 100 } } });
  aged = createQueue({ redis, prefix: 'ops:', name: 'aged', jobs: JOBS, clock, retention: { complete: { ageS: 60 }, failed: {} } });
  const app = createApp({ log, bodyLimitBytes: 1 << 20, responseValidation: true, onError: redisErrorAnswer });
  app.include(createAdminRouter([queue, aged], { adminKeys: ['operator-key'], apiKeys: ['tenant-key'] }), { prefix: '/v1' });
  api = await testClient(app);
  const offApp = createApp({ log, bodyLimitBytes: 1 << 20, responseValidation: true });
  offApp.include(createAdminRouter([queue], { adminKeys: [], apiKeys: ['tenant-key'] }), { prefix: '/v1' });
  off = await testClient(offApp);
  for (const q of [queue, aged]) workers.push(startWorker({ queue: q, consumer: `ops-${q.name}`, log, leaseMs: 2000, blockMs: 100, promoteEveryMs: 20 }));
  await Promise.all(workers.map((w) => w.ready));
});
after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await api.close();
  await off.close();
  await closeRedis(redis);
  await server.stop();
});

const get = async (path: string) => {
  const res = await api.get(`/v1/admin/queues${path}`, { headers: ADMIN });
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return res.json();
};
const act = async (path: string, body?: unknown, method: 'post' | 'delete' = 'post') => {
  const res = method === 'post' ? await api.post(`/v1/admin/queues${path}`, body, { headers: ADMIN }) : await api.delete(`/v1/admin/queues${path}`, { headers: ADMIN });
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return res.json();
};
const statusOf = async (id: string) => (await queue.getJob(id))?.status;
const settled = (id: string, q: Queue = queue) => until(async () => ['complete', 'failed', 'aborted'].includes((await q.getJob(id))?.status ?? ''), 15_000, `job ${id}`);

test('operator auth: no key or an unknown one 401, an API key of a tenant 403, an operator key 200; no admin key configured → 404', async () => {
  for (const headers of [{}, { 'x-api-key': 'nobody' }] as Record<string, string>[]) {
    const res = await api.get('/v1/admin/queues', { headers });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.headers.get('www-authenticate'), 'ApiKey header="X-API-Key"');
  }
  for (const [method, path] of [['get', '/v1/admin/queues'], ['post', '/v1/admin/queues/main/pause'], ['get', '/v1/admin/queues/main/jobs?status=failed']] as const) {
    const res = await api.request(method.toUpperCase(), path, { headers: TENANT });
    assert.equal(res.status, 403, path);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
  }
  assert.equal((await api.get('/v1/admin/queues', { headers: ADMIN })).status, 200);
  for (const headers of [ADMIN, TENANT, {} as Record<string, string>]) {
    const res = await off.get('/v1/admin/queues', { headers });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
  }
  assert.equal((await api.get('/v1/admin/queues/nope', { headers: ADMIN })).status, 404);
});

test('HEAD and OPTIONS on the operator routes', async () => {
  const head = await api.head('/v1/admin/queues/main/jobs?status=complete', { headers: ADMIN });
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.equal((await api.head('/v1/admin/queues', { headers: TENANT })).status, 403);
  const options = await api.options('/v1/admin/queues/main/jobs/some-id');
  assert.equal(options.status, 204);
  assert.deepEqual(options.headers.get('allow')?.split(/,\s*/).sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS']);
  assert.match((await api.options('/v1/admin/queues/main/pause')).headers.get('allow') ?? '', /POST/);
});

test('overview: counts per status, processed and failed this minute, live workers, paused flag', async () => {
  const done = await Promise.all([1, 2, 3].map((n) => queue.enqueue(echo, { n })));
  const failed = await queue.enqueue(boom, {});
  for (const job of [...done, failed]) await settled(job.id);
  await until(async () => (await get('/main')).workers.length === 1, 5000, 'a heartbeat');
  const main = await get('/main');
  assert.equal(main.name, 'main');
  assert.equal(main.paused, false);
  assert.ok(main.counts.complete >= 3);
  assert.ok(main.counts.failed >= 1);
  assert.ok(main.counts.dead >= 1);
  assert.deepEqual(Object.keys(main.counts).sort(), ['aborted', 'complete', 'dead', 'deferred', 'failed', 'in_progress', 'queued', 'retrying', 'waiting']);
  assert.equal(main.throughput.length, 60);
  const minute = main.throughput.at(-1);
  assert.ok(minute.processed >= 3 && minute.failed >= 1, JSON.stringify(minute));
  assert.deepEqual([main.workers[0].consumer, main.workers[0].pid, typeof main.workers[0].host], ['ops-main', process.pid, 'string']);
  assert.ok(Date.parse(main.workers[0].last_heartbeat) > 0);
  const list = await get('');
  assert.deepEqual(list.queues.map((q: { name: string }) => q.name), ['main', 'aged']);
});

test('pause: a running job finishes, new jobs stay queued and are listed; resume runs them', async () => {
  const running = await queue.enqueue(nap, { ms: 400 });
  await until(async () => (await statusOf(running.id)) === 'in_progress', 5000, 'the job to start');
  const inProgress = await get('/main/jobs?status=in_progress');
  assert.deepEqual(inProgress.jobs.map((j: { id: string }) => j.id), [running.id]);
  assert.deepEqual(await act('/main/pause'), { paused: true });
  assert.deepEqual(await act('/main/pause'), { paused: true }, 'pausing twice is harmless');
  const waiting = await Promise.all([1, 2, 3].map((n) => queue.enqueue(echo, { n })));
  await settled(running.id);
  assert.equal(await statusOf(running.id), 'complete', 'the job it held finished');
  // Long enough for the worker to have read (and put back) the new entries several times over.
  await sleep(800);
  for (const job of waiting) assert.equal(await statusOf(job.id), 'queued');
  const main = await get('/main');
  assert.equal(main.paused, true);
  assert.equal(main.counts.queued, 3);
  const listed = await get('/main/jobs?status=queued');
  assert.deepEqual(listed.jobs.map((j: { id: string }) => j.id), waiting.map((j) => j.id).reverse(), 'newest first');
  assert.ok(main.oldest_waiting_ms >= 0);
  assert.deepEqual(await act('/main/resume'), { paused: false });
  for (const job of waiting) await settled(job.id);
  assert.equal((await get('/main')).paused, false);
});

test('paging: complete jobs newest first a page at a time, with a name filter; a foreign cursor is a 400', async () => {
  const jobs: JobHandle[] = [];
  for (let n = 0; n < 20; n++) jobs.push(await queue.enqueue(n % 4 === 0 ? other : echo, { n }));
  for (const job of jobs) await settled(job.id);
  const seen: { id: string; entered_at: string; name: string }[] = [];
  let cursor: string | null = null;
  do {
    const page: { jobs: typeof seen; next_cursor: string | null } = await get(`/main/jobs?status=complete&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.jobs.length <= 4);
    seen.push(...page.jobs);
    cursor = page.next_cursor;
  } while (cursor !== null);
  const count = (await get('/main')).counts.complete;
  assert.equal(seen.length, count, 'every complete job once');
  assert.equal(new Set(seen.map((j) => j.id)).size, seen.length, 'no job twice');
  for (let i = 1; i < seen.length; i++) assert.ok(Date.parse(seen[i - 1].entered_at) >= Date.parse(seen[i].entered_at), 'newest first');
  for (const job of jobs) assert.ok(seen.some((j) => j.id === job.id), `${job.id} listed`);
  const named = await get('/main/jobs?status=complete&name=ops.other&limit=50');
  assert.deepEqual(new Set(named.jobs.map((j: { name: string }) => j.name)), new Set(['ops.other']));
  assert.equal(named.jobs.length, 5);
  const bad = await api.get('/v1/admin/queues/main/jobs?status=complete&cursor=bm9wZQ', { headers: ADMIN });
  assert.equal(bad.status, 400);
  assert.equal((await api.get('/v1/admin/queues/main/jobs?status=sleeping', { headers: ADMIN })).status, 422);
});

test('retention by count: the scripts that finish jobs keep the newest 30 complete ones, deleting the older hashes', async () => {
  const jobs: JobHandle[] = [];
  for (let n = 0; n < 40; n++) jobs.push(await queue.enqueue(echo, { n }));
  for (const job of jobs.slice(-5)) await settled(job.id);
  await until(async () => (await Promise.all(jobs.map((j) => statusOf(j.id)))).every((s) => s === 'complete' || s === undefined), 10_000, 'all 40 finished');
  assert.equal((await get('/main')).counts.complete, 30);
  assert.equal(await queue.getJob(jobs[0].id), null, 'the oldest job is gone, hash and all');
  assert.equal((await queue.getJob(jobs[39].id))?.status, 'complete');
  assert.equal(await redis.zCard(queue.keys.status('complete')), 30);
});

test('retention by age: jobs that finished more than 60 s before a later finish are deleted', async () => {
  const early = await aged.enqueue(echo, { n: 1 });
  await settled(early.id, aged);
  clock.elapse(61_000);
  const late = await aged.enqueue(echo, { n: 2 });
  await settled(late.id, aged);
  assert.equal(await aged.getJob(early.id), null);
  assert.equal((await aged.getJob(late.id))?.status, 'complete');
  const page = await get('/aged/jobs?status=complete');
  assert.deepEqual(page.jobs.map((j: { id: string }) => j.id), [late.id]);
});

test('job detail: payload, result, attempts with worker and outcome, progress, log lines, error with stack', async () => {
  const job = await queue.enqueue(logged, {});
  await settled(job.id);
  const detail = await get(`/main/jobs/${job.id}`);
  assert.equal(detail.status, 'complete');
  assert.deepEqual(detail.payload, {});
  assert.deepEqual(detail.result, { done: true });
  assert.equal(detail.progress, 50);
  assert.deepEqual(detail.attempts.map((a: { attempt: number; outcome: string; worker: string }) => [a.attempt, a.outcome, a.worker]), [[1, 'retry', 'ops-main'], [2, 'complete', 'ops-main']]);
  for (const a of detail.attempts) assert.ok(Date.parse(a.ended_at) >= Date.parse(a.started_at));
  assert.deepEqual(detail.logs.map((l: { msg: string; level: string }) => `${l.level} ${l.msg}`), ['info attempt started', 'warn halfway', 'info attempt started', 'warn halfway']);
  assert.equal(detail.logs[0].attempt, 1);
  const failed = await queue.enqueue(boom, {});
  await settled(failed.id);
  const dead = await get(`/main/jobs/${failed.id}`);
  assert.deepEqual([dead.status, dead.error, dead.dead], ['failed', 'boom', true]);
  assert.match(dead.stack, /^Error: boom\n\s+at /);
  assert.deepEqual(dead.logs.map((l: { msg: string }) => l.msg), ['about to fail']);
  assert.equal((await api.get('/v1/admin/queues/main/jobs/no-such-job', { headers: ADMIN })).status, 404);
});

test('rows and detail show a job\'s priority, group and dedupe key (as given, the owner apart), dead letters too', async () => {
  await act('/main/pause');
  const tagged = await queue.enqueue(report, { tenant: 'acme', ref: 'weekly:7' }, { priority: 'high', owner: 'tenant-x' });
  const plain = await queue.enqueue(echo, { n: 1 });
  const rows = (await get('/main/jobs?status=queued')).jobs;
  const traits = (id: string) => {
    const row = rows.find((j: { id: string }) => j.id === id);
    return [row.priority, row.group, row.dedupe];
  };
  assert.deepEqual(traits(tagged.id), ['high', 'acme', { mode: 'throttle', key: 'weekly:7' }]);
  assert.deepEqual(traits(plain.id), ['normal', null, null]);
  const detail = await get(`/main/jobs/${tagged.id}`);
  assert.deepEqual([detail.priority, detail.group, detail.group_concurrency, detail.dedupe, detail.holds_dedupe, detail.owner],
    ['high', 'acme', 2, { mode: 'throttle', key: 'weekly:7' }, true, 'tenant-x']);
  const bare = await get(`/main/jobs/${plain.id}`);
  assert.deepEqual([bare.priority, bare.group, bare.group_concurrency, bare.dedupe, bare.holds_dedupe], ['normal', null, null, null, false]);

  await act('/main/resume');
  const failed = await queue.enqueue(boom, {}, { priority: 'low', dedupe: { key: 'once', mode: 'debounce', delayMs: 1 } });
  for (const job of [tagged, plain, failed]) await settled(job.id);
  const letter = (await get('/main/jobs?status=dead')).jobs.find((j: { id: string }) => j.id === failed.id);
  assert.deepEqual([letter.priority, letter.group, letter.dedupe], ['low', null, { mode: 'debounce', key: 'once' }], 'from the job\'s record');
  assert.equal((await get(`/main/jobs/${failed.id}`)).holds_dedupe, false, 'an ended job lets its key go');
  assert.equal((await get(`/main/jobs/${tagged.id}`)).holds_dedupe, false);
});

test('retry: one failed job runs again, its dead letter goes; a second retry skips it; dead and failed in bulk', async () => {
  const failed = await queue.enqueue(boom, {});
  await settled(failed.id);
  const deadBefore = (await get('/main')).counts.dead;
  assert.ok((await get('/main/jobs?status=dead')).jobs.some((j: { id: string }) => j.id === failed.id));
  // Paused, so the re-run cannot fail into a new dead letter before the count is read.
  await act('/main/pause');
  assert.deepEqual(await act(`/main/jobs/${failed.id}/retry`), { retried: 1, skipped: 0 });
  assert.equal((await get('/main')).counts.dead, deadBefore - 1, 'its dead letter is gone');
  await act('/main/resume');
  await until(async () => (await statusOf(failed.id)) === 'failed' && (await get(`/main/jobs/${failed.id}`)).dead, 10_000, 'the re-run to fail again');
  await act('/main/pause');
  assert.deepEqual(await act(`/main/jobs/${failed.id}/retry`), { retried: 1, skipped: 0 });
  assert.deepEqual(await act(`/main/jobs/${failed.id}/retry`), { retried: 0, skipped: 1 }, 'already queued: skipped');
  await act('/main/resume');
  await settled(failed.id);
  // Bulk: by ids, then everything failed, then every dead letter.
  const more = await Promise.all([1, 2, 3].map(() => queue.enqueue(boom, {})));
  for (const job of more) await settled(job.id);
  assert.deepEqual(await act('/main/retry', { ids: [more[0].id, 'unknown-id'] }), { retried: 1, skipped: 1, remaining: 0 });
  await settled(more[0].id);
  const all = await act('/main/retry', { status: 'failed' });
  assert.ok(all.retried >= 3, JSON.stringify(all));
  assert.equal(all.remaining, 0);
  for (const job of more) await settled(job.id);
  const letters = (await get('/main')).counts.dead;
  assert.ok(letters >= 3);
  const replayed = await act('/main/retry', { status: 'dead' });
  assert.deepEqual([replayed.remaining, replayed.retried >= 3], [0, true]);
  const neither = await api.post('/v1/admin/queues/main/retry', {}, { headers: ADMIN });
  assert.equal(neither.status, 422);
  for (const job of more) await settled(job.id);
});

test('promote, abort and delete: each answers what it did and is harmless twice', async () => {
  const later = await queue.enqueue(echo, { n: 1 }, { delayMs: 3_600_000 });
  assert.ok((await get('/main/jobs?status=deferred')).jobs.some((j: { id: string }) => j.id === later.id));
  assert.deepEqual(await act(`/main/jobs/${later.id}/promote`), { promoted: 1 });
  await settled(later.id);
  assert.deepEqual(await act(`/main/jobs/${later.id}/promote`), { promoted: 0 });
  assert.equal((await get('/main/jobs?status=deferred')).jobs.length, 0);

  const deferred = await queue.enqueue(echo, { n: 2 }, { delayMs: 3_600_000 });
  assert.deepEqual(await act(`/main/jobs/${deferred.id}/abort`), { aborted: 1, aborting: 0 });
  assert.deepEqual(await act(`/main/jobs/${deferred.id}/abort`), { aborted: 0, aborting: 0 });
  assert.ok((await get('/main/jobs?status=aborted')).jobs.some((j: { id: string }) => j.id === deferred.id));

  const running = await queue.enqueue(nap, { ms: 10_000 });
  await until(async () => (await statusOf(running.id)) === 'in_progress', 5000, 'the job to start');
  assert.deepEqual(await act(`/main/jobs/${running.id}`, undefined, 'delete'), { deleted: 0, running: 1 });
  assert.deepEqual(await act(`/main/jobs/${running.id}/abort`), { aborted: 0, aborting: 1 });
  await settled(running.id);
  assert.equal(await statusOf(running.id), 'aborted');
  assert.deepEqual(await act(`/main/jobs/${running.id}`, undefined, 'delete'), { deleted: 1, running: 0 });
  assert.deepEqual(await act(`/main/jobs/${running.id}`, undefined, 'delete'), { deleted: 0, running: 0 });
  assert.equal((await api.get(`/v1/admin/queues/main/jobs/${running.id}`, { headers: ADMIN })).status, 404);
  assert.ok(!(await get('/main/jobs?status=aborted')).jobs.some((j: { id: string }) => j.id === running.id), 'gone from its index');
});

test('drain deletes every waiting job (queued, deferred) and leaves running ones; twice is harmless', async () => {
  await act('/main/pause');
  const queued = await Promise.all([1, 2, 3, 4, 5].map((n) => queue.enqueue(echo, { n })));
  const deferred = await Promise.all([1, 2].map((n) => queue.enqueue(echo, { n }, { delayMs: 3_600_000 })));
  assert.deepEqual(await act('/main/drain'), { deleted: 7, remaining: 0 });
  assert.deepEqual(await act('/main/drain'), { deleted: 0, remaining: 0 });
  for (const job of [...queued, ...deferred]) assert.equal(await queue.getJob(job.id), null);
  const counts = (await get('/main')).counts;
  assert.deepEqual([counts.queued, counts.deferred], [0, 0]);
  await act('/main/resume');
  // Still consuming after the drain.
  const after = await queue.enqueue(echo, { n: 9 });
  await settled(after.id);
});
