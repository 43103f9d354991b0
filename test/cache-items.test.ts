// The example catalogue's cached reads: GET /v1/items/{id} and GET /v1/items are served from the cache, and
// every write invalidates the `items` tag before it answers, so the writer's next read is never stale.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildApp } from '../src/app/index.ts';
import { createCache, redisCacheStore, type Cache } from '../src/cache/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let cache: Cache;
let client: TestClient;
const KEY = { 'x-api-key': 'k' };

before(async () => {
  server = await startTestRedis();
  const config = loadConfig({ REDIS_URL: server.url, API_KEYS: 'k', REDIS_COMMAND_TIMEOUT_MS: '500', DOCS_ENABLED: 'false' });
  const log = createLogger('silent');
  redis = createRedis({ url: server.url, commandTimeoutMs: 500, log });
  while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 10));
  cache = createCache({ store: redisCacheStore(redis, config.redisPrefix), log, timeoutMs: 500 });
  client = await testClient(buildApp({ config, log, redis, cache, isDraining: () => false, pingRedis: () => pingRedis(redis, 500) }));
});
after(async () => {
  await client.close();
  await closeRedis(redis);
  await server.stop();
});

test('item reads are cached and every write is visible to the next read', async () => {
  const item = (await client.post('/v1/items', { name: 'Lamp', price: 10 }, { headers: KEY })).json();
  const path = `/v1/items/${item.id}`;
  assert.equal((await client.get(path)).headers.get('x-cache'), 'MISS');
  const hit = await client.get(path);
  assert.deepEqual([hit.headers.get('x-cache'), hit.json().price], ['HIT', 10]);
  assert.equal((await client.get('/v1/items')).headers.get('x-cache'), 'MISS');
  assert.equal((await client.get('/v1/items')).headers.get('x-cache'), 'HIT');

  assert.equal((await client.request('PATCH', path, { headers: KEY, body: { price: 12 } })).status, 200);
  const afterPatch = await client.get(path);
  assert.deepEqual([afterPatch.headers.get('x-cache'), afterPatch.json().price], ['MISS', 12]);

  const second = (await client.post('/v1/items', { name: 'Desk', price: 99 }, { headers: KEY })).json();
  const list = await client.get('/v1/items');
  assert.equal(list.headers.get('x-cache'), 'MISS');
  assert.deepEqual(list.json().items.map((i: { id: string }) => i.id), [item.id, second.id]);

  assert.equal((await client.request('DELETE', path, { headers: KEY })).status, 204);
  assert.equal((await client.get(path)).status, 404);
  assert.deepEqual((await client.get('/v1/items')).json().items.map((i: { id: string }) => i.id), [second.id]);
});

test('a read carrying X-API-Key bypasses the shared cache entry (a credential header of the app)', async () => {
  await client.get('/v1/items');
  assert.equal((await client.get('/v1/items')).headers.get('x-cache'), 'HIT');
  const keyed = await client.get('/v1/items', { headers: KEY });
  assert.equal(keyed.headers.get('x-cache'), 'BYPASS');
  assert.match(keyed.headers.get('cache-status')!, /detail=credentials/);
});

test('a missing item answers 404 every time and is never cached', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await client.get('/v1/items/0000000000aaaaaaaaaa');
    assert.equal(res.status, 404);
    assert.notEqual(res.headers.get('x-cache'), 'HIT');
  }
});

test('the OpenAPI operation of a cached route documents If-None-Match and 304', () => {
  const app = buildApp({
    config: loadConfig({ REDIS_URL: server.url }), log: createLogger('silent'), redis, cache,
    isDraining: () => false, pingRedis: async () => true,
  });
  const route = app.routes().find((r) => r.method === 'GET' && r.path === '/v1/items/{id}')!;
  const operation: Record<string, unknown> = { responses: { '200': { description: 'ok' } } };
  for (const i of route.interceptors) i.openapi?.(operation);
  assert.ok((operation.responses as Record<string, unknown>)['304']);
  assert.equal((operation.parameters as { name: string }[])[0].name, 'If-None-Match');
});
