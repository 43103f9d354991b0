// The job API over real sockets: exports enqueued, followed and downloaded through the example app; job
// status, SSE events, abort, idempotency, validation, and 503 when Redis is away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import type { Queue } from '../src/queue/index.ts';
import type { TestClient } from '../src/testing/index.ts';
import { startJobApps, type JobApps } from './support/job-apps.ts';
import { jobEnd as jobEndAs, until } from './support/queue.ts';
import { echo, nap, progress } from './support/queue-jobs.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let apps: JobApps;
let app: TestClient;
let jobsApp: TestClient;
let testQueue: Queue;
let appQueue: Queue;
const KEY = { 'x-api-key': 'test-key' };

before(async () => {
  server = await startTestRedis();
  const config = loadConfig({ REDIS_URL: server.url, API_KEYS: 'test-key', REDIS_COMMAND_TIMEOUT_MS: '1000', CACHE_ENABLED: 'false' });
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log: createLogger('silent') });
  await until(() => redis.isReady);
  apps = await startJobApps(redis, config, { leaseMs: 2000 });
  ({ app, jobsApp, testQueue, appQueue } = apps);
});
after(async () => {
  await apps.stop();
  await closeRedis(redis);
  await server.stop();
});

const jobEnd = (client: TestClient, id: string) => jobEndAs(client, id, KEY);

/** Reads a whole SSE response: the events in order and whether the server closed it. */
async function readEvents(url: string): Promise<{ event: string; id: string; data: Record<string, unknown> }[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const text = await res.text(); // resolves only when the server ends the stream
  return text.split('\n\n').filter((block) => block.includes('data: ')).map((block) => {
    const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
    return { event: field('event'), id: field('id'), data: JSON.parse(field('data')) };
  });
}

test('POST /v1/exports → 202 + Location; the job walks the catalogue; the file downloads as CSV and NDJSON', async () => {
  for (const [name, price, tags] of [['Lamp', 12.5, ['home']], ['Desk, "oak"', 99, ['home', 'office']], ['Pen', 1, ['office']]] as const) {
    assert.equal((await app.post('/v1/items', { name, price, tags }, { headers: KEY })).status, 201);
  }
  const created = await app.post('/v1/exports', { format: 'csv' }, { headers: KEY });
  assert.equal(created.status, 202);
  const { id, status } = created.json();
  assert.equal(status, 'queued');
  assert.equal(created.headers.get('location'), `/v1/jobs/${id}`);
  const job = await jobEnd(app, id);
  assert.equal(job.status, 'complete');
  assert.equal(job.name, 'catalog.export');
  assert.equal(job.progress, 100);
  assert.deepEqual(job.result, { format: 'csv', items: 3, bytes: (job.result as { bytes: number }).bytes, truncated: false, file: `/v1/exports/${id}/file` });
  const file = await app.get(`/v1/exports/${id}/file`, { headers: KEY });
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-disposition'), `attachment; filename="catalog-${id}.csv"`);
  const lines = file.text.trim().split('\n');
  assert.equal(lines[0], 'id,name,description,price,tags,created_at,updated_at');
  assert.equal(lines.length, 4);
  assert.ok(lines.some((l) => l.includes('"Desk, ""oak"""')), 'CSV quoting');

  const office = await app.post('/v1/exports', { format: 'ndjson', tag: 'office' }, { headers: KEY });
  const done = await jobEnd(app, office.json().id);
  assert.equal((done.result as { items: number }).items, 2);
  const nd = await app.get(`/v1/exports/${office.json().id}/file`, { headers: KEY });
  assert.equal(nd.headers.get('content-type'), 'application/x-ndjson');
  assert.deepEqual(nd.text.trim().split('\n').map((l) => JSON.parse(l).name).sort(), ['Desk, "oak"', 'Pen']);
});

test('exports: Idempotency-Key, validation, auth, and not-yet-complete or unknown files', async () => {
  const headers = { ...KEY, 'idempotency-key': 'export-1' };
  const first = await app.post('/v1/exports', { format: 'ndjson' }, { headers });
  const again = await app.post('/v1/exports', { format: 'ndjson' }, { headers });
  assert.equal(first.status, 202);
  assert.equal(again.json().id, first.json().id);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const conflict = await app.post('/v1/exports', { format: 'csv' }, { headers });
  assert.equal(conflict.status, 422, 'the same key with another body');
  assert.equal(conflict.json().code, 'IDEMPOTENCY_KEY_REUSED');
  assert.equal(conflict.headers.get('content-type'), 'application/problem+json');
  assert.equal((await app.post('/v1/exports', { format: 'xml' }, { headers: KEY })).status, 422);
  assert.equal((await app.post('/v1/exports', { format: 'csv' })).status, 401);
  assert.equal((await app.get('/v1/exports/nope/file', { headers: KEY })).status, 404);
  assert.equal((await app.get('/v1/jobs/nope', { headers: KEY })).status, 404);
  assert.equal((await app.get(`/v1/jobs/${'x'.repeat(300)}`, { headers: KEY })).status, 414);
  const later = await appQueue.enqueue(appQueue.jobs.get('catalog.export')!, { format: 'csv' }, { delayMs: 60_000 });
  const early = await app.get(`/v1/exports/${later.id}/file`, { headers: KEY });
  assert.equal(early.status, 409);
  assert.match(early.json().detail, /deferred/);
});

test('GET /v1/jobs/{id}/events streams progress in order, then the terminal status, and closes', async () => {
  const job = await testQueue.enqueue(progress, { steps: 5, delayMs: 40 });
  const events = await readEvents(`${jobsApp.url}/v1/jobs/${job.id}/events`);
  const progressValues = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
  assert.deepEqual(progressValues, [...progressValues].sort((a, b) => Number(a) - Number(b)), 'in order');
  assert.ok(progressValues.length >= 1);
  const revisions = events.map((e) => Number(e.id));
  assert.deepEqual(revisions, [...new Set(revisions)].sort((a, b) => a - b), 'revisions strictly increase');
  const last = events.at(-1)!;
  assert.equal(last.event, 'status');
  assert.equal(last.data.status, 'complete');
  assert.deepEqual(last.data.result, { steps: 5 });

  // A finished job: one event, then the stream ends at once.
  const after = await readEvents(`${jobsApp.url}/v1/jobs/${job.id}/events`);
  assert.equal(after.length, 1);
  assert.equal(after[0].data.status, 'complete');
  assert.equal((await fetch(`${jobsApp.url}/v1/jobs/nope/events`)).status, 404);
});

test('GET /v1/jobs/{id} is typed per job; DELETE aborts waiting and running jobs, 409 once finished', async () => {
  const done = await testQueue.enqueue(echo, { value: 'typed' });
  const view = await jobEnd(jobsApp, done.id);
  assert.deepEqual(view.result, { value: 'typed' });
  assert.equal(view.attempt, 1);
  assert.equal((await jobsApp.request('DELETE', `/v1/jobs/${done.id}`)).status, 409);

  const waiting = await testQueue.enqueue(echo, { value: 'later' }, { delayMs: 60_000 });
  const aborted = await jobsApp.request('DELETE', `/v1/jobs/${waiting.id}`);
  assert.equal(aborted.status, 202);
  assert.deepEqual(aborted.json(), { id: waiting.id, status: 'aborted' });

  const running = await testQueue.enqueue(nap, { ms: 60_000 });
  await until(async () => (await testQueue.getJob(running.id))?.status === 'in_progress');
  const stopping = await jobsApp.request('DELETE', `/v1/jobs/${running.id}`);
  assert.deepEqual(stopping.json(), { id: running.id, status: 'aborting' });
  assert.equal((await jobEnd(jobsApp, running.id)).status, 'aborted');
  assert.equal((await app.request('DELETE', `/v1/jobs/${running.id}`)).status, 401, 'the app guards abort with its API key');
});

test('with Redis down, POST /v1/exports answers 503 problem+json at once', async () => {
  await server.kill();
  try {
    const res = await app.post('/v1/exports', { format: 'csv' }, { headers: KEY });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const read = await app.get('/v1/jobs/abc', { headers: KEY });
    assert.equal(read.status, 503);
    assert.equal(read.headers.get('retry-after'), '1', 'a job read that met no Redis says when to retry');
  } finally {
    await server.restart();
  }
});
