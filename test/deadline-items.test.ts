// The example catalogue under Redis faults: one Redis deadline per request (cache + store), and truthful 503s —
// a write answered 503 is never applied later, whether Redis hung (SIGSTOP, the deadline guard refuses the queued
// script) or restarted (nothing is queued while the connection is down).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildApp } from '../src/app/index.ts';
import { itemKeys } from '../src/app/keys.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient, type TestResponse } from '../src/testing/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const BOUND_MS = 500;
// Two bounds in a row can never take less than 2 × BOUND_MS, so "less" proves one shared deadline, and leaves a
// loaded machine a whole bound of scheduling noise.
const TWO_BOUNDS_MS = 2 * BOUND_MS;
const KEY = { 'x-api-key': 'k' };
let server: TestRedis;
let redis: Redis;
let client: TestClient;
let keys: ReturnType<typeof itemKeys>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  server = await startTestRedis();
  const config = loadConfig({ REDIS_URL: server.url, API_KEYS: 'k', REDIS_COMMAND_TIMEOUT_MS: String(BOUND_MS), DOCS_ENABLED: 'false' });
  const log = createLogger('silent');
  redis = createRedis({ url: server.url, commandTimeoutMs: BOUND_MS, log });
  while (!(await pingRedis(redis, 200))) await sleep(10);
  keys = itemKeys(config.redisPrefix);
  client = await testClient(buildApp({ config, log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, BOUND_MS) }));
});
after(async () => {
  await client.close();
  await closeRedis(redis);
  await server.stop();
});

async function timed(call: () => Promise<TestResponse>) {
  const started = Date.now();
  const res = await call();
  return { res, ms: Date.now() - started };
}

/** Names of the stored items, read straight from Redis (not through the cache). */
async function storedNames(): Promise<(string | null)[]> {
  const ids = await redis.zRange(keys.all, 0, -1);
  return Promise.all(ids.map((id) => redis.hGet(keys.item(id), 'name')));
}

async function untilReady(): Promise<void> {
  while (!(await pingRedis(redis, 200))) await sleep(20);
}

function assertNotApplied(res: TestResponse): void {
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.headers.get('retry-after'), '1');
  const body = res.json();
  assert.equal(body.code, 'SERVICE_UNAVAILABLE');
  assert.equal(body.applied, false);
  assert.doesNotMatch(body.detail, /try again shortly/);
}

test('a cached read on a hung Redis waits one bound in all (cache, then store), not one each', async () => {
  const item = (await client.post('/v1/items', { name: 'kept', price: 1 }, { headers: KEY })).json();
  await client.get('/healthz');
  server.pause();
  try {
    const { res, ms } = await timed(() => client.get(`/v1/items/${item.id}`));
    assertNotApplied(res);
    assert.ok(ms < TWO_BOUNDS_MS, `answered in ${ms} ms (bound ${BOUND_MS} ms)`);
  } finally {
    server.resume();
  }
  await untilReady();
});

test('a write on a hung Redis answers 503 "not applied" within the bound, and is not applied when Redis resumes', async () => {
  await client.post('/v1/items', { name: 'warm', price: 1 }, { headers: KEY }); // the script is loaded
  server.pause();
  try {
    const { res, ms } = await timed(() => client.post('/v1/items', { name: 'ghost', price: 1, tags: ['ghost'] }, { headers: KEY }));
    assertNotApplied(res);
    assert.ok(ms < TWO_BOUNDS_MS, `answered in ${ms} ms (bound ${BOUND_MS} ms)`);
  } finally {
    server.resume();
  }
  await untilReady();
  assert.ok((await storedNames()).includes('warm'));
  assert.ok(!(await storedNames()).includes('ghost'), 'the queued script ran past its deadline and wrote nothing');
  assert.equal(await redis.exists(keys.tag('ghost')), 0, 'nor indexed it');
});

test('a write while Redis restarts fails at once, "not applied", and is not applied when Redis is back', async () => {
  await server.kill();
  try {
    while (redis.isReady) await sleep(5);
    const { res, ms } = await timed(() => client.post('/v1/items', { name: 'queued', price: 1 }, { headers: KEY }));
    assertNotApplied(res);
    assert.ok(ms < BOUND_MS, `failed in ${ms} ms: nothing waited for the connection`);
  } finally {
    await server.restart();
  }
  await untilReady();
  await sleep(100);
  assert.ok(!(await storedNames()).includes('queued'), 'nothing was queued to run on reconnect');
});
