// The local tier in front of the Redis store, on a real Redis: warm hits without a Redis GET (INFO
// commandstats of the test's own server), Age / ETag / 304 from it, invalidations reaching another process,
// the byte-bounded LRU, Redis killed or hung (the tier empties and is bypassed: no stale answer), and the
// race between a read's reply and an invalidation pushed right behind it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, beforeEach, test } from 'node:test';
import { cacheCollector, cacheFromConfig, createCache, LocalTier, openLocalTier, redisCacheStore, type Cache } from '../src/cache/index.ts';
import { loadConfig } from '../src/config.ts';
import { encodeEntry } from '../src/cache/entry.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient, type TestResponse } from '../src/testing/index.ts';
import { cacheTestApp, type CacheTestApp } from './support/cache-app.ts';
import { testClock } from './support/clock.ts';
import { rawGet } from './support/raw-get.ts';
import { connectedClient, redisCommand, startTestRedis, type TestRedis } from './support/redis.ts';

const log = createLogger('silent');
// Above the default 500 ms: on a loaded machine this process's own stall must not look like a hung Redis.
const SILENCE_MS = 2000;
const clock = testClock();
let server: TestRedis;
let redis: Redis;
let tier: LocalTier;
let cache: Cache;
let t: CacheTestApp;
let client: TestClient;
const children: ChildProcess[] = [];

before(async () => {
  server = await startTestRedis();
  redis = await connectedClient(server, 500);
  tier = openLocalTier(redis, { maxBytes: 1 << 20, log, timeoutMs: 500, silenceMs: SILENCE_MS });
  cache = createCache({ store: redisCacheStore(redis, 'flight:', tier), log, timeoutMs: 500, clock, honorNoCache: true });
  t = cacheTestApp(cache, { redisTimeoutMs: 500 });
  client = await testClient(t.app);
});
after(async () => {
  for (const child of children) child.kill('SIGTERM');
  await client.close();
  await cache.close();
  await closeRedis(redis);
  await server.stop();
});
beforeEach(async () => {
  await until(() => tier.serving);
  await server.flush();
  await until(() => tier.size === 0);
  for (const k of Object.keys(t.calls)) delete t.calls[k];
});

const x = (r: TestResponse) => r.headers.get('x-cache');

/** Waits for a condition the test then relies on (never a bound the code must meet: that is bench's job). */
async function until(condition: () => boolean | Promise<boolean>, what = 'condition'): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > giveUp) throw new Error(`${what} not reached within 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** GETs Redis has run so far (INFO commandstats), counted on the test's own server. */
async function redisGets(): Promise<number> {
  const info = String(await redisCommand(server.port, ['INFO', 'commandstats']));
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/**
 * Fills the entry, then reads it until the tier answers it; returns that answer. A read may rightly not be kept:
 * the miss before the fill read the key on the tracking connection, so the fill's SET pushes an invalidation,
 * which can arrive after the next read was sent.
 */
async function warm(path: string): Promise<TestResponse> {
  await client.get(path);
  let answer: TestResponse | undefined;
  await until(async () => {
    const before = cache.counters().localHits;
    answer = await client.get(path);
    return cache.counters().localHits > before;
  }, `${path} answered by the tier`);
  return answer!;
}

test('a warm hit is served from the local tier without a Redis GET, with Age, ETag and 304 as from Redis', async () => {
  const miss = await client.get('/things/a');
  assert.equal(x(miss), 'MISS');
  await warm('/things/a');
  assert.equal(tier.size, 1);
  const gets = await redisGets();
  const localHits = cache.counters().localHits;
  const hits = [await client.get('/things/a'), await client.get('/things/a'), await client.request('HEAD', '/things/a')];
  assert.equal(await redisGets(), gets, 'no GET reached Redis');
  assert.equal(cache.counters().localHits, localHits + 3);
  for (const hit of hits) {
    assert.equal(x(hit), 'HIT');
    for (const name of ['etag', 'content-type', 'content-length']) assert.equal(hit.headers.get(name), miss.headers.get(name), name);
  }
  assert.equal(hits[0].text, miss.text);
  assert.equal(t.calls.things, 1);

  clock.elapse(5000);
  // Age counts the 5 s moved plus the real time the test has taken; Age + max-age stays the TTL.
  const older = await client.get('/things/a');
  const age = Number(older.headers.get('age'));
  assert.ok(age >= 5 && age < 60, `Age ${age}`);
  assert.equal(older.headers.get('cache-control'), `public, max-age=${60 - age}`);
  assert.equal(older.headers.get('cache-status'), `skiff; hit; ttl=${60 - age}`);
  // Not fetch: it adds Cache-Control: no-cache to a conditional request, which this cache honours.
  const notModified = await rawGet(client.url + '/things/a', { 'if-none-match': miss.headers.get('etag')! });
  assert.deepEqual([notModified.status, notModified.body.length, notModified.headers.etag], [304, 0, miss.headers.get('etag')]);
  assert.ok(Number(notModified.headers.age) >= age);
  assert.equal(await redisGets(), gets);
  // Past its freshness the held entry is not served: the fill goes to Redis and runs the handler.
  clock.elapse(60_000);
  assert.equal(x(await client.get('/things/a')), 'MISS');
  assert.equal(t.calls.things, 2);
});

test('an invalidation, a store and a flush in this process drop the held entries', async () => {
  await warm('/things/a');
  await warm('/static');
  assert.equal(tier.size, 2);
  await cache.invalidate({ tags: ['things'] });
  await until(() => tier.size === 0, 'both entries dropped');
  assert.equal(x(await client.get('/things/a')), 'MISS');
  // A store over a held key (a revalidation here) drops it: the next read takes the new entry.
  await warm('/things/a');
  assert.equal(tier.size, 1);
  const revalidated = await client.get('/things/a', { headers: { 'cache-control': 'no-cache' } });
  await until(() => tier.size === 0, 'the overwritten entry dropped');
  assert.equal((await warm('/things/a')).text, revalidated.text);
});

function startChild(): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cache-child.ts'], {
    env: { ...process.env, REDIS_URL: server.url, LOCAL_TIER: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`app process exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(`http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`));
  });
}

test('another process stops serving its held entry once this one invalidates by tag, by namespace or writes', async (ctx) => {
  const other = await startChild();
  const get = async (path: string) => (await fetch(other + path)).text();
  const held = async () => (JSON.parse(await get('/local-hits')) as { hits: number; held: number });
  /** Warms the other process's tier, then proves it answers from it (its local hit count moves). */
  async function warmOther(): Promise<string> {
    await get('/things/a');
    let body = '';
    await until(async () => {
      const before = (await held()).hits;
      body = await get('/things/a');
      return (await held()).hits > before;
    }, 'the other process answering from its local tier');
    return body;
  }
  /** Polls the other process until its answer differs from `stale` (it must: this is what the test proves). */
  async function stopsServing(stale: string, how: string): Promise<string> {
    const started = performance.now();
    let answer = stale;
    await until(async () => (answer = await get('/things/a')) !== stale, `the other process dropping its entry (${how})`);
    ctx.diagnostic(`${how}: the other process answered anew ${(performance.now() - started).toFixed(1)} ms after the invalidation returned`);
    return answer;
  }

  const first = await warmOther();
  await cache.invalidate({ tags: ['things'] });
  assert.equal(JSON.parse(await stopsServing(first, 'tag')).n, 2, 'its handler ran again');

  const second = await warmOther();
  await cache.invalidate({ namespace: '/things/{id}' });
  assert.equal(JSON.parse(await stopsServing(second, 'namespace')).n, 3);

  const third = await warmOther();
  const written = await client.get('/things/a', { headers: { 'cache-control': 'no-cache' } });
  assert.match(written.headers.get('cache-status')!, /stored/);
  assert.equal(await stopsServing(third, 'write'), written.text, 'it serves what this process stored');
});

test('memory is bounded by bytes: the least recently used entries go first; an entry over the bound is not kept', async () => {
  const small = openLocalTier(redis, { maxBytes: 1000, log, timeoutMs: 500, silenceMs: SILENCE_MS });
  const own = createCache({ store: redisCacheStore(redis, 'lru:', small), log, timeoutMs: 500 });
  const app = await testClient(cacheTestApp(own).app);
  const filler = await testClient(cacheTestApp(createCache({ store: redisCacheStore(redis, 'lru:'), log, timeoutMs: 500 })).app);
  /** Fills through an app with no tier (so no invalidation is on its way), then reads once through the tier. */
  const warm = async (path: string) => {
    await filler.get(path);
    await app.get(path);
  };
  try {
    await until(() => small.serving);
    await warm('/things/k1');
    const one = small.bytes;
    assert.ok(one > 200 && 2 * one <= 1000 && 3 * one > 1000, `two entries fit, three do not (${one} bytes each)`);
    await warm('/things/k2');
    assert.equal(small.size, 2, `suspensions ${small.suspensions}`);
    await app.get('/things/k1'); // k1 is now the most recently used
    await warm('/things/k3');
    assert.equal(small.size, 2);
    assert.ok(small.bytes <= 1000);
    let gets = await redisGets();
    await app.get('/things/k1');
    await app.get('/things/k3');
    assert.equal(await redisGets(), gets, 'k1 and k3 are held');
    await app.get('/things/k2');
    assert.equal(await redisGets(), gets + 1, 'k2 was evicted: read from Redis');
    await warm('/things/big?big=3000');
    gets = await redisGets();
    await app.get('/things/big?big=3000');
    assert.equal(await redisGets(), gets + 1, 'an entry larger than the bound is read from Redis every time');
    assert.ok(small.bytes <= 1000);
  } finally {
    await app.close();
    await filler.close();
    await own.close();
  }
});

/** The local tier's gauges and suspension counter as /metrics shows them. */
const tierMetrics = async (): Promise<Record<string, number>> => Object.fromEntries((await cacheCollector(cache)())
  .filter((f) => f.name.startsWith('skiff_cache_local_tier_') || f.name === 'skiff_cache_local_suspensions_total')
  .map((f) => [f.name, f.samples[0].value]));

test('Redis killed: the tier empties and is bypassed (no answer it cannot know is fresh), then serves again', async () => {
  await warm('/things/a');
  assert.equal(tier.size, 1);
  const before = await tierMetrics();
  assert.deepEqual([before.skiff_cache_local_tier_serving, before.skiff_cache_local_tier_entries], [1, 1]);
  assert.ok(before.skiff_cache_local_tier_bytes > 0);
  await server.kill();
  await until(() => !tier.serving, 'suspended');
  assert.equal(tier.size, 0);
  const during = await tierMetrics();
  assert.deepEqual([during.skiff_cache_local_tier_serving, during.skiff_cache_local_tier_entries, during.skiff_cache_local_tier_bytes], [0, 0, 0]);
  assert.equal(during.skiff_cache_local_suspensions_total, before.skiff_cache_local_suspensions_total + 1);
  const answer = await client.get('/things/a');
  assert.equal(x(answer), 'BYPASS');
  assert.equal(t.calls.things, 2, 'the handler answered, not the held entry');
  await server.restart();
  await until(() => tier.serving, 'serving again');
  await until(async () => x(await client.get('/things/a')) === 'MISS', 'caching again');
  const local = cache.counters().localHits;
  await until(async () => {
    await client.get('/things/a');
    return cache.counters().localHits > local;
  }, 'the tier refilling once tracking is back');
});

test('Redis hung (SIGSTOP): once its heartbeat goes unanswered the tier empties and is bypassed', async () => {
  const body = (await warm('/things/a')).text;
  assert.equal(tier.size, 1);
  server.pause();
  try {
    await until(() => !tier.serving, 'suspended');
    assert.equal(tier.size, 0);
    const during = await client.get('/things/a');
    assert.equal(x(during), 'BYPASS');
    assert.notEqual(during.text, body);
  } finally {
    server.resume();
  }
  await until(() => tier.serving, 'serving again');
  await until(async () => x(await client.get('/things/a')) === 'HIT', 'the entry, still in Redis, served again');
  assert.equal(t.calls.things, 2);
});

/** A connection whose replies the test releases, and whose pushes it sends. */
class FakeTracking extends EventEmitter {
  isReady = true;
  isOpen = false;
  readonly replies: ((reply: Buffer) => void)[] = [];
  sendCommand(): Promise<Buffer> {
    return new Promise((resolve) => this.replies.push(resolve));
  }
  ping(): Promise<string> {
    return Promise.resolve('PONG');
  }
}

test('a reply overtaken by its key\'s invalidation, or by a lost connection, is not kept', async () => {
  const fake = new FakeTracking();
  const local = new LocalTier(fake as unknown as Redis, { maxBytes: 1 << 20, log, timeoutMs: 100 });
  const body = Buffer.from('{}');
  const entry = encodeEntry({
    status: 200, headers: {}, etag: '"e"', storedAt: 0, freshUntil: 1, staleUntil: 1, errorUntil: 1, body, brotliEtag: null, identity: body, identityLength: 2,
  });
  try {
    await until(() => local.serving);
    const kept = local.read('k1');
    fake.replies.shift()!(entry);
    await kept;
    assert.notEqual(local.lookup('k1'), null);
    fake.emit('invalidate', Buffer.from('k1'));
    assert.equal(local.lookup('k1'), null);

    // The push is parsed right behind the reply, before the reader's continuation runs.
    const overtaken = local.read('k2');
    fake.replies.shift()!(entry);
    fake.emit('invalidate', 'k2');
    assert.deepEqual(await overtaken, entry, 'the caller still gets what Redis answered');
    assert.equal(local.lookup('k2'), null);

    const cut = local.read('k3');
    fake.emit('reconnecting');
    assert.equal(local.serving, false);
    await until(() => local.serving, 'serving again (the fake answers its PING)');
    fake.replies.shift()!(entry);
    await cut;
    assert.equal(local.lookup('k3'), null, 'read before the connection was lost');

    const flushed = local.read('k4');
    fake.replies.shift()!(entry);
    await flushed;
    assert.equal(local.size, 1);
    fake.emit('invalidate', null);
    assert.equal(local.size, 0);
  } finally {
    await local.close();
  }
});

test('cacheFromConfig opens a local tier on a single Redis server only, never under a Cluster or Sentinel topology', async () => {
  const opened: unknown[] = [];
  // duplicate() is how a tier opens its connection: count the calls instead of connecting.
  const fakeRedis = { duplicate: (options: unknown) => { opened.push(options); throw new Error('no connection in this test'); } } as unknown as Redis;
  for (const env of [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }, { REDIS_SENTINELS: '127.0.0.1:26379' }, { CACHE_LOCAL_MAX_BYTES: '0' }, { CACHE_STORE: 'memory' }]) {
    const own = cacheFromConfig(loadConfig({ REDIS_URL: server.url, ...env }), fakeRedis, log);
    assert.equal(own.store.peek({ namespace: 'n', id: 'i' }), null);
    await own.close();
  }
  assert.deepEqual(opened, []);
  // A separate single-server CACHE_REDIS_URL keeps it, cluster or not.
  assert.throws(() => cacheFromConfig(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', CACHE_REDIS_URL: server.url }), fakeRedis, log), /no connection/);
  assert.throws(() => cacheFromConfig(loadConfig({ REDIS_URL: server.url }), fakeRedis, log), /no connection/);
  assert.equal(opened.length, 2);
  assert.deepEqual(opened[0], { RESP: 3, emitInvalidate: true, name: 'skiff-cache-tracking' });
});
