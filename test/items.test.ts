// The example catalogue end to end over a real socket and a harness-started Redis, including Redis failures.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../src/app/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let redisServer: TestRedis;
let redis: Redis;
let client: TestClient;
const KEY = { 'x-api-key': 'test-key' };

before(async () => {
  redisServer = await startTestRedis();
  const config = loadConfig({ REDIS_URL: redisServer.url, API_KEYS: 'test-key,other-key', REDIS_COMMAND_TIMEOUT_MS: '300' });
  const log = createLogger('silent');
  redis = createRedis({ url: redisServer.url, commandTimeoutMs: 300, log });
  while (!redis.isReady) await new Promise((r) => setTimeout(r, 10));
  const app = buildApp({ config, log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, 300) });
  client = await testClient(app);
});
after(async () => {
  await client.close();
  await closeRedis(redis);
  await redisServer.stop();
});

describe('items', () => {
  test('create → read → patch → list → delete', async () => {
    const created = await client.post('/v1/items', { name: 'Lamp', price: 12.5, tags: ['home', 'light'], description: 'Warm' }, { headers: KEY });
    assert.equal(created.status, 201);
    const item = created.json();
    assert.match(item.id, /^[0-9a-z]{20}$/);
    assert.equal(created.headers.get('location'), `/v1/items/${item.id}`);
    assert.equal(item.created_at, item.updated_at);

    assert.deepEqual((await client.get(`/v1/items/${item.id}`)).json(), item);

    const patched = await client.request('PATCH', `/v1/items/${item.id}`, { headers: KEY, body: { price: 10, tags: ['home', 'sale'] } });
    assert.equal(patched.status, 200);
    assert.equal(patched.json().price, 10);
    assert.deepEqual(patched.json().tags, ['home', 'sale']);
    assert.equal(patched.json().name, 'Lamp');

    const sale = (await client.get('/v1/items?tag=sale')).json();
    assert.deepEqual(sale.items.map((i: { id: string }) => i.id), [item.id]);
    assert.deepEqual((await client.get('/v1/items?tag=light')).json().items, [], 'the old tag index no longer lists it');

    const deleted = await client.request('DELETE', `/v1/items/${item.id}`, { headers: KEY });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.equal((await client.get(`/v1/items/${item.id}`)).status, 404);
    assert.deepEqual((await client.get('/v1/items?tag=home')).json().items, []);
    assert.equal((await client.request('DELETE', `/v1/items/${item.id}`, { headers: KEY })).status, 404);
  });

  test('listing pages with a cursor, in creation order, with no duplicates or gaps', async () => {
    await redisServer.flush();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await client.post('/v1/items', { name: `n${i}`, price: i, tags: ['page'] }, { headers: KEY })).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await client.get(`/v1/items?tag=page&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      const page = res.json();
      assert.ok(page.items.length <= 3);
      seen.push(...page.items.map((i: { id: string }) => i.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, ids);
    assert.equal((await client.get('/v1/items')).json().items.length, 7);
  });

  test('writes need a valid API key', async () => {
    const none = await client.post('/v1/items', { name: 'x', price: 1 });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('content-type'), 'application/problem+json');
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1 }, { headers: { 'x-api-key': 'nope' } })).status, 401);
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1 }, { headers: { 'x-api-key': 'other-key' } })).status, 201);
  });

  test('bad input is a 4xx problem and stores nothing', async () => {
    await redisServer.flush();
    assert.equal((await client.post('/v1/items', { name: 'x', price: -1 }, { headers: KEY })).status, 422);
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, { headers: KEY })).status, 422);
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1, id: 'mine' }, { headers: KEY })).status, 422, 'unknown fields are refused');
    assert.equal((await client.post('/v1/items', '{"name":', { headers: { ...KEY, 'content-type': 'application/json' } })).status, 400);
    assert.equal((await client.post('/v1/items', '{"__proto__":{"x":1}}', { headers: { ...KEY, 'content-type': 'application/json' } })).status, 400);
    assert.equal((await client.post('/v1/items', 'name=x', { headers: { ...KEY, 'content-type': 'text/plain' } })).status, 415);
    assert.equal((await client.post('/v1/items', { name: 'x'.repeat(2 * 1024 * 1024), price: 1 }, { headers: KEY })).status, 413);
    assert.equal((await client.get('/v1/items?limit=abc')).json().errors[0].loc.join('.'), 'query.limit');
    assert.equal((await client.get('/v1/items/NOT-AN-ID')).status, 422);
    assert.equal((await client.request('PATCH', '/v1/items/00000000000000000000', { headers: KEY, body: {} })).status, 422, 'an empty patch');
    assert.deepEqual((await client.get('/v1/items')).json().items, []);
  });
});

describe('when Redis fails', () => {
  test('a hung Redis (SIGSTOP): /readyz and item reads answer 503 instead of hanging', async () => {
    const created = (await client.post('/v1/items', { name: 'kept', price: 1 }, { headers: KEY })).json();
    redisServer.pause();
    try {
      const ready = await client.get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.headers.get('content-type'), 'application/problem+json');
      const read = await client.get(`/v1/items/${created.id}`);
      assert.equal(read.status, 503);
      assert.equal(read.json().code, 'SERVICE_UNAVAILABLE');
      assert.equal((await client.get('/healthz')).status, 200, 'liveness does not depend on Redis');
    } finally {
      redisServer.resume();
    }
    for (let i = 0; i < 100 && (await client.get('/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await client.get(`/v1/items/${created.id}`)).json().name, 'kept', 'nothing stored was lost');
  });

  test('a killed Redis: 503s at once, then service resumes when it is back', async () => {
    await redisServer.kill();
    assert.equal((await client.get('/readyz')).status, 503);
    assert.equal((await client.get('/v1/items')).status, 503);
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1 }, { headers: KEY })).status, 503);
    await redisServer.restart();
    for (let i = 0; i < 100 && (await client.get('/readyz')).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await client.get('/readyz')).status, 200);
    assert.equal((await client.post('/v1/items', { name: 'x', price: 1 }, { headers: KEY })).status, 201);
  });
});
