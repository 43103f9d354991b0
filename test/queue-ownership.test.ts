// Jobs belong to the API key that enqueued them: another key (or nobody) cannot read, follow, download or abort
// them and is told 404 exactly as for a missing job; Idempotency-Keys are per key; job ids are random; job and
// authenticated answers carry Cache-Control: no-store; and an enqueue answered 503 under a hung Redis never runs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appJobs } from '../src/app/exports.ts';
import { buildApp } from '../src/app/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createJobsRouter, createQueue, startWorker, type Queue, type Worker } from '../src/queue/index.ts';
import { closeRedis, createRedis, pingRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp, defineDependency } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { until } from './support/queue.ts';
import { echo, TEST_JOBS } from './support/queue-jobs.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let app: TestClient;
let queue: Queue;
let worker: Worker | null = null;
const K1 = { 'x-api-key': 'key-one' };
const K2 = { 'x-api-key': 'key-two' };
const log = createLogger('silent');
const TIMEOUT_MS = 300;

before(async () => {
  server = await startTestRedis();
  const config = loadConfig({ REDIS_URL: server.url, API_KEYS: 'key-one,key-two', REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS), CACHE_ENABLED: 'false' });
  redis = createRedis({ url: server.url, commandTimeoutMs: TIMEOUT_MS, log });
  await until(() => redis.isReady);
  app = await testClient(buildApp({ config, log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, 300) }));
  queue = createQueue({ redis, prefix: config.redisPrefix, jobs: appJobs(config), commandTimeoutMs: TIMEOUT_MS });
});
after(async () => {
  await worker?.stop();
  await app.close();
  await closeRedis(redis);
  await server.stop();
});

const exportKeys = () => redis.keys('skiff:q:{default}:job:*');

test("another key cannot read, follow, download or abort a key's job: 404, the same answer as a missing job", async () => {
  const created = await app.post('/v1/exports', { format: 'csv' }, { headers: K1 });
  assert.equal(created.status, 202);
  const { id } = created.json();
  assert.match(id, /^[0-9a-f-]{36}$/, 'a random id');
  assert.equal((await app.get(`/v1/jobs/${id}`, { headers: K1 })).status, 200);

  const missing = await app.get('/v1/jobs/no-such-job', { headers: K2 });
  const same = (res: { status: number; text: string }, what: string) => {
    assert.equal(res.status, 404, what);
    assert.equal(res.text.replace(id, 'no-such-job'), missing.text, `${what}: the body of a missing job`);
  };
  same(await app.get(`/v1/jobs/${id}`, { headers: K2 }), 'read');
  same(await app.get(`/v1/jobs/${id}/events`, { headers: K2 }), 'follow');
  same(await app.request('DELETE', `/v1/jobs/${id}`, { headers: K2 }), 'abort');
  assert.equal((await app.request('HEAD', `/v1/jobs/${id}`, { headers: K2 })).status, 404);
  assert.equal((await queue.getJob(id))?.status, 'queued', 'the abort did not happen');
  for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/events`, `/v1/exports/${id}/file`]) {
    assert.equal((await app.get(path)).status, 401, `${path} needs a key`);
  }
  assert.equal((await app.request('DELETE', `/v1/jobs/${id}`)).status, 401);

  worker = startWorker({ queue, consumer: 'w-own', log, leaseMs: 2000, blockMs: 100 });
  await until(async () => (await queue.getJob(id))?.status === 'complete', 15_000, 'the export');
  assert.equal((await app.get(`/v1/exports/${id}/file`, { headers: K2 })).status, 404, 'download');
  assert.equal((await app.get(`/v1/exports/${id}/file`, { headers: K1 })).status, 200);
  const events = await fetch(`${app.url}/v1/jobs/${id}/events`, { headers: K1 });
  assert.equal(events.status, 200);
  assert.match(await events.text(), /"status":"complete"/);
  assert.equal((await app.request('DELETE', `/v1/jobs/${id}`, { headers: K1 })).status, 409, 'the owner may abort (it already ended)');
});

test("a key sending another key's Idempotency-Key gets its own new job, not the other's", async () => {
  const headers = { 'idempotency-key': 'shared-key' };
  const one = await app.post('/v1/exports', { format: 'ndjson' }, { headers: { ...K1, ...headers } });
  const two = await app.post('/v1/exports', { format: 'ndjson' }, { headers: { ...K2, ...headers } });
  assert.equal(one.status, 202);
  assert.equal(two.status, 202);
  assert.equal(two.headers.get('idempotent-replayed'), null);
  assert.notEqual(two.json().id, one.json().id);
  assert.equal((await app.get(`/v1/jobs/${two.json().id}`, { headers: K2 })).status, 200);
  assert.equal((await app.get(`/v1/jobs/${one.json().id}`, { headers: K2 })).status, 404);
  const replay = await app.post('/v1/exports', { format: 'ndjson' }, { headers: { ...K1, ...headers } });
  assert.equal(replay.json().id, one.json().id);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
});

test('the queue: idempotency keys are per owner, ids stay random, a job nobody owns is visible to every key', async () => {
  const jobs = createQueue({ redis, prefix: 'own:', jobs: TEST_JOBS });
  const a = await jobs.enqueue(echo, { value: 'x' }, { idempotencyKey: 'k', owner: 'a' });
  const b = await jobs.enqueue(echo, { value: 'x' }, { idempotencyKey: 'k', owner: 'b' });
  const a2 = await jobs.enqueue(echo, { value: 'x' }, { idempotencyKey: 'k', owner: 'a' });
  assert.equal(a.created && b.created, true);
  assert.notEqual(a.id, b.id);
  assert.equal(a2.id, a.id);
  assert.equal(a2.created, false);
  assert.equal((await jobs.getJob(a.id))?.owner, 'a');
  // An index naming a job that expired: the key gets a new job, under a new random id.
  await redis.del(jobs.keys.job(a.id));
  const a3 = await jobs.enqueue(echo, { value: 'x' }, { idempotencyKey: 'k', owner: 'a' });
  assert.equal(a3.created, true);
  assert.notEqual(a3.id, a.id);

  const router = createApp({ log, onError: redisErrorAnswer });
  const who = defineDependency<string>({ name: 'who', resolve: (ctx) => String(ctx.req.headers['x-who']), principal: (w) => w });
  router.include(createJobsRouter(jobs, { deps: { who } }));
  const client = await testClient(router);
  try {
    const unowned = await jobs.enqueue(echo, { value: 'y' });
    assert.equal((await client.get(`/jobs/${unowned.id}`, { headers: { 'x-who': 'b' } })).status, 200);
    assert.equal((await client.get(`/jobs/${b.id}`, { headers: { 'x-who': 'b' } })).status, 200);
    assert.equal((await client.get(`/jobs/${b.id}`, { headers: { 'x-who': 'a' } })).status, 404);
    assert.equal(await jobs.abort(b.id, { principal: 'a' }), 'not_found');
    assert.equal(await jobs.abort(b.id, { principal: 'a', operator: true }), 'aborted');
  } finally {
    await client.close();
  }
});

test('answers of authenticated and job routes carry Cache-Control: no-store unless the route set its own', async () => {
  const created = await app.post('/v1/exports', { format: 'csv' }, { headers: K1 });
  assert.equal(created.headers.get('cache-control'), 'no-store');
  assert.equal((await app.get(`/v1/jobs/${created.json().id}`, { headers: K1 })).headers.get('cache-control'), 'no-store');
  assert.equal((await app.get('/v1/jobs/nope', { headers: K1 })).headers.get('cache-control'), 'no-store', 'errors too');
  assert.equal((await app.post('/v1/exports', { format: 'csv' })).headers.get('cache-control'), 'no-store', '401 too');
  const events = await fetch(`${app.url}/v1/jobs/${created.json().id}/events`, { headers: K1, signal: AbortSignal.timeout(200) }).catch(() => null);
  if (events !== null) assert.equal(events.headers.get('cache-control'), 'no-cache', 'the event stream keeps its own');
  assert.equal((await app.get('/healthz')).headers.get('cache-control'), null, 'a public route is left alone');
});

test('with Redis hung, POST /v1/exports answers 503 and the job is never enqueued, not even once Redis resumes', async () => {
  await worker?.stop();
  worker = null;
  const before = (await exportKeys()).length;
  const length = await redis.xLen(queue.keys.stream);
  server.pause();
  const answers: number[] = [];
  try {
    const started = Date.now();
    for (let i = 0; i < 5; i++) answers.push((await app.post('/v1/exports', { format: 'csv', tag: `hung-${i}` }, { headers: K1 })).status);
    assert.ok(Date.now() - started < 5 * (3 * TIMEOUT_MS + 500), 'each answered within its bound');
  } finally {
    server.resume();
  }
  assert.deepEqual(answers, [503, 503, 503, 503, 503]);
  // Everything the API sent while Redis was stopped has run by the time it answers this.
  assert.equal(await redis.ping(), 'PONG');
  assert.equal((await exportKeys()).length, before);
  assert.equal(await redis.xLen(queue.keys.stream), length);
});
