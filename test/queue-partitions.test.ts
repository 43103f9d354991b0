// A queue spread over 3 partitions (3 key sets) on one Redis, seen as one queue: enqueue, run, status, idempotency,
// job events over SSE, the operator API's counts and listings, the CLI, and a worker that serves every partition
// (none starves behind another's backlog). The split over a cluster's masters is test/redis-cluster.test.ts's.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp } from '../src/router/index.ts';
import { createAdminRouter, createJobsRouter, createQueue, startWorker, type Queue, type Worker } from '../src/queue/index.ts';
import { partitionIndex, partitionNames } from '../src/queue/partitions.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { keySlot } from './support/redis-slot.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { runCli, until } from './support/queue.ts';
import { echo, flaky, nap, progress, TEST_JOBS } from './support/queue-jobs.ts';

const log = createLogger('silent');
const ADMIN = { 'x-api-key': 'operator-key' };
let server: TestRedis;
let redis: Redis;
let queue: Queue;
let api: TestClient;
const workers: Worker[] = [];

function worker(maxJobs = 30): Worker {
  const w = startWorker({ queue, consumer: `pw${workers.length}`, log, maxJobs, leaseMs: 2000, blockMs: 100, promoteEveryMs: 20 });
  workers.push(w);
  return w;
}

/** A partition key that routes to partition `p` of 3. */
const keyFor = (p: number, tag: string) => {
  for (let i = 0; ; i++) if (partitionIndex(`${tag}-${i}`, 3) === p) return `${tag}-${i}`;
};
const ended = (id: string) => until(async () => ['complete', 'failed', 'aborted'].includes((await queue.getJob(id))?.status ?? ''), 30_000, `job ${id}`);

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 2000, log });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 2000, partitions: 3 });
  const app = createApp({ log, bodyLimitBytes: 1 << 20, responseValidation: true, onError: redisErrorAnswer });
  app.include(createJobsRouter(queue, { heartbeatMs: 100 }), { prefix: '/v1' });
  app.include(createAdminRouter([queue], { adminKeys: ['operator-key'] }), { prefix: '/v1' });
  api = await testClient(app);
});
beforeEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await server.flush();
});
after(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await api.close();
  await closeRedis(redis);
  await server.stop();
});

test('the partitions are the queue itself and two more names, in the three thirds of the slot space', () => {
  const names = partitionNames('default', 3);
  assert.equal(names[0], 'default', 'partition 0 keeps the queue\'s own keys');
  assert.deepEqual(queue.partitions.map((p) => p.name), names);
  assert.ok(names.slice(1).every((n) => /^default#\d+$/.test(n)), names.join());
  const thirds = names.map((n) => Math.floor((keySlot(`{${n}}`) * 3) / 16384));
  assert.deepEqual([...thirds].sort(), [0, 1, 2], `slots ${names.map((n) => keySlot(`{${n}}`))}`);
  assert.deepEqual(partitionNames('default', 1), ['default']);
  assert.equal(createQueue({ redis, prefix: 'qt:', jobs: [] }).partitions.length, 1);
});

test('jobs spread over the partitions in turn, run, and read back through any queue object of the same name', async () => {
  const handles = await Promise.all(Array.from({ length: 30 }, (_, i) => queue.enqueue(echo, { value: `v${i}` })));
  const held = [0, 0, 0];
  for (const h of handles) held[partitionIndex(h.id, 3)]!++;
  assert.deepEqual(held, [10, 10, 10], 'round robin, and each id names its partition');
  const waiting = await Promise.all(queue.partitions.map((p) => p.stats()));
  assert.deepEqual(waiting.map((s) => s.queued), [10, 10, 10], 'each partition\'s stream holds its own');
  assert.equal((await queue.stats()).queued, 30, 'stats() sums them');
  await worker().ready;
  await Promise.all(handles.map((h) => ended(h.id)));
  // Another process's view: a fresh object with the same name and count finds every job without a search.
  const other = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, partitions: 3 });
  for (const [i, h] of handles.entries()) assert.deepEqual((await other.getJob(h.id))?.result, { value: `v${i}` });
  assert.equal(await handles[4]!.status(), 'complete');
  const stats = await other.stats();
  assert.equal(stats.processed, 30);
  assert.equal(stats.queued, 0);
  assert.equal(stats.workers, 1, 'one worker process, though it heartbeats in every partition');
  assert.deepEqual(await other.liveWorkers(), ['pw0']);
});

test('an idempotency or dedupe key dedupes across the partitions; a given id goes to the partition its hash names', async () => {
  const first = await queue.enqueue(echo, { value: 'once' }, { idempotencyKey: 'order-7', owner: 'alice' });
  const again = await Promise.all([0, 1, 2, 3].map(() => queue.enqueue(echo, { value: 'once' }, { idempotencyKey: 'order-7', owner: 'alice' })));
  assert.ok(again.every((h) => h.id === first.id && !h.created), 'every retry of the key, whichever turn it came on, is the first job');
  await assert.rejects(queue.enqueue(echo, { value: 'other' }, { idempotencyKey: 'order-7', owner: 'alice' }), { status: 409 });
  const bob = await queue.enqueue(echo, { value: 'once' }, { idempotencyKey: 'order-7', owner: 'bob' });
  assert.notEqual(bob.id, first.id, 'keys are per owner');
  for (const id of ['req-1', 'req-2', 'req-3', 'req-4']) {
    const given = await queue.enqueue(echo, { value: id }, { id });
    assert.equal(given.id, id);
    assert.equal((await queue.partitions[partitionIndex(id, 3)]!.getJob(id))?.name, 'test.echo');
    assert.equal((await queue.enqueue(echo, { value: id }, { id })).created, false);
  }
  const throttled = await Promise.all([0, 1, 2, 3].map((i) => queue.enqueue(echo, { value: `t${i}` }, { dedupe: { mode: 'throttle', key: 'user-5' } })));
  assert.ok(throttled.slice(1).every((h) => h.id === throttled[0]!.id && h.deduped === 'throttled'), 'a dedupe key resolves in one partition too');
  const keyed = await Promise.all([0, 1, 2].map((i) => queue.enqueue(echo, { value: `k${i}` }, { partitionKey: 'tenant-9' })));
  assert.equal(new Set(keyed.map((h) => partitionIndex(h.id, 3))).size, 1, 'one partition key, one partition');
});

test('job events stream over SSE from whichever partition holds the job; aborts and retries reach it too', async () => {
  const followed = await Promise.all([0, 1, 2].map(() => queue.enqueue(progress, { steps: 2, delayMs: 30 })));
  assert.equal(new Set(followed.map((h) => partitionIndex(h.id, 3))).size, 3);
  // Each stream answers once it is subscribed: the jobs start after that.
  const responses = await Promise.all(followed.map((h) => fetch(`${api.url}/v1/jobs/${h.id}/events`)));
  await worker().ready;
  const streams = await Promise.all(responses.map((r) => r.text()));
  for (const text of streams) {
    assert.match(text, /event: progress/);
    assert.match(text, /"status":"complete"/);
  }
  const long = await Promise.all([0, 1, 2].map(() => queue.enqueue(nap, { ms: 60_000 })));
  await until(async () => (await Promise.all(long.map((h) => h.status()))).every((s) => s === 'in_progress'));
  for (const h of long) assert.equal((await api.request('DELETE', `/v1/jobs/${h.id}`)).status, 202);
  for (const h of long) await ended(h.id);
  assert.deepEqual(await Promise.all(long.map((h) => h.status())), ['aborted', 'aborted', 'aborted']);
  const retried = await queue.enqueue(flaky, { failures: 1 });
  await ended(retried.id);
  assert.equal(await retried.status(), 'complete', 'retried through its partition\'s delayed set');
});

test('a worker serves every partition: two short backlogs finish while a long one is still queued', async () => {
  const hot = keyFor(0, 'hot');
  const cold = [keyFor(1, 'cold'), keyFor(2, 'cold')];
  const hotJobs = await Promise.all(Array.from({ length: 120 }, () => queue.enqueue(nap, { ms: 10 }, { partitionKey: hot })));
  // Enqueued after the whole hot backlog: one stream would run them last.
  const coldJobs = await Promise.all(cold.flatMap((key) => Array.from({ length: 10 }, () => queue.enqueue(nap, { ms: 10 }, { partitionKey: key }))));
  worker(3);
  await Promise.all(coldJobs.map((h) => ended(h.id)));
  const hotLeft = (await queue.partitions[0]!.stats()).queued;
  assert.ok(hotLeft > 60, `the hot partition still holds ${hotLeft} of 120 queued jobs when the others are done`);
  await Promise.all(hotJobs.map((h) => ended(h.id)));
});

test('the operator API sees one queue: counts summed, listings merged newest first across partitions, actions routed by id', async () => {
  const failed = await Promise.all([0, 1, 2].map(() => queue.enqueue(flaky, { failures: 5 })));
  const done = await Promise.all(Array.from({ length: 7 }, (_, i) => queue.enqueue(echo, { value: `d${i}` })));
  const later = await Promise.all([0, 1, 2].map(() => queue.enqueue(echo, { value: 'later' }, { delayMs: 60_000 })));
  await worker().ready;
  for (const h of [...failed, ...done]) await ended(h.id);
  const summary = (await api.get('/v1/admin/queues/default', { headers: ADMIN })).json();
  assert.equal(summary.name, 'default');
  assert.equal(summary.counts.complete, 7);
  assert.equal(summary.counts.failed, 3);
  assert.equal(summary.counts.dead, 3);
  assert.equal(summary.counts.deferred, 3);
  assert.equal(summary.throughput.reduce((n: number, m: { processed: number }) => n + m.processed, 0), 7);
  assert.deepEqual(summary.workers.map((w: { consumer: string }) => w.consumer), ['pw0'], 'one worker, merged from its three heartbeats');
  const listed: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { jobs: { id: string; entered_at: string }[]; next_cursor: string | null } =
      (await api.get(`/v1/admin/queues/default/jobs?status=complete&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { headers: ADMIN })).json();
    const times = page.jobs.map((j) => Date.parse(j.entered_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first within a page');
    listed.push(...page.jobs.map((j) => j.id));
    cursor = page.next_cursor;
  } while (cursor !== null);
  assert.deepEqual([...listed].sort(), done.map((h) => h.id).sort(), 'three pages hold every complete job once');
  assert.equal((await api.get('/v1/admin/queues/default/jobs?status=complete&cursor=bm9wZQ', { headers: ADMIN })).status, 400);
  const detail = (await api.get(`/v1/admin/queues/default/jobs/${failed[2]!.id}`, { headers: ADMIN })).json();
  assert.equal(detail.status, 'failed');
  assert.equal(detail.dead, true);
  const retried = (await api.post('/v1/admin/queues/default/retry', { ids: failed.map((h) => h.id) }, { headers: ADMIN })).json();
  assert.equal(retried.retried, 3);
  for (const h of failed) await until(async () => (await h.status()) === 'failed', 30_000, 'the retried jobs to fail again');
  assert.equal((await api.post(`/v1/admin/queues/default/jobs/${later[1]!.id}/promote`, undefined, { headers: ADMIN })).json().promoted, 1);
  await ended(later[1]!.id);
  const drained = (await api.post('/v1/admin/queues/default/drain', undefined, { headers: ADMIN })).json();
  assert.equal(drained.deleted, 2, 'the two deferred jobs left, from two partitions');
  assert.equal(drained.remaining, 0);
});

test('pause and resume act on every partition; the CLI prints the summed stats and inspects any job', async () => {
  await worker().ready;
  const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue(echo, { value: `c${i}` })));
  for (const h of jobs) await ended(h.id);
  assert.equal((await api.post('/v1/admin/queues/default/pause', undefined, { headers: ADMIN })).status, 200);
  assert.equal((await redis.exists(queue.partitions.map((p) => p.keys.paused))), 3);
  assert.equal((await api.get('/v1/admin/queues/default', { headers: ADMIN })).json().paused, true);
  assert.equal((await api.post('/v1/admin/queues/default/resume', undefined, { headers: ADMIN })).status, 200);
  const env = { QUEUE_PARTITIONS: '3' };
  const stats = await runCli(server.url, ['stats'], env);
  assert.equal(stats.code, 0);
  assert.match(stats.stdout, /processed\s+6\n/);
  for (const h of jobs.filter((j) => partitionIndex(j.id, 3) > 0).slice(0, 2)) {
    const inspected = await runCli(server.url, ['inspect', h.id], env);
    assert.equal(inspected.code, 0, inspected.stdout);
    assert.equal(JSON.parse(inspected.stdout).status, 'complete');
  }
});
