// The cache through real sockets and a real Redis: hits, 304s, vary, scopes, invalidation, errors,
// request directives, coalescing, stale-while-revalidate and stale-if-error.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { cacheCollector, createCache, documentCaching, memoryCacheStore, type Cache } from '../src/cache/index.ts';
import { renderPrometheus, type MetricFamily } from '../src/metrics/index.ts';
import { createLogger } from '../src/log.ts';
import { defineDependency } from '../src/router/index.ts';
import { testClient, type TestClient, type TestResponse } from '../src/testing/index.ts';
import { cacheTestApp, startCacheHarness, type CacheHarness } from './support/cache-app.ts';
import { testClock } from './support/clock.ts';

let h: CacheHarness;
let cache: Cache;
let t: CacheHarness;
let client: TestClient;
const log = createLogger('silent');

// Freshness is judged by this clock: tests move it past a TTL instead of sleeping (Redis keeps real time).
const clock = testClock();

before(async () => {
  h = await startCacheHarness({ timeoutMs: 500, maxBodyBytes: 10_000, clock });
  ({ cache, client } = h);
  t = h;
});
after(() => h.stop());
beforeEach(async () => {
  await h.server.flush();
  for (const k of Object.keys(t.calls)) delete t.calls[k];
  t.failing.on = false;
});

const x = (r: TestResponse) => r.headers.get('x-cache');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a HIT after a MISS has the same status, headers and body, plus Age and the hit Cache-Status', async () => {
  const miss = await client.get('/things/a?q=1');
  const hit = await client.get('/things/a?q=1');
  assert.deepEqual([miss.status, hit.status], [200, 200]);
  assert.deepEqual([x(miss), x(hit)], ['MISS', 'HIT']);
  assert.equal(hit.text, miss.text);
  assert.deepEqual(hit.json(), { id: 'a', n: 1, q: '1' });
  for (const h of ['content-type', 'etag', 'content-length']) assert.equal(hit.headers.get(h), miss.headers.get(h), h);
  assert.match(miss.headers.get('etag')!, /^"[\w-]{27}"$/);
  assert.equal(miss.headers.get('cache-control'), 'public, max-age=60');
  assert.match(hit.headers.get('cache-control')!, /^public, max-age=(59|60)$/);
  assert.match(hit.headers.get('age')!, /^[01]$/);
  assert.match(miss.headers.get('cache-status')!, /^skiff; fwd=uri-miss; stored; ttl=60$/);
  assert.match(hit.headers.get('cache-status')!, /^skiff; hit; ttl=(59|60)$/);
  assert.equal(t.calls.things, 1);
  // Query order does not make a new entry; HEAD is served from GET's entry, without a body.
  assert.equal(x(await client.get('/things/a?q=1')), 'HIT');
  const head = await client.request('HEAD', '/things/a?q=1');
  assert.deepEqual([head.status, x(head), head.text], [200, 'HIT', '']);
  assert.equal(t.calls.things, 1);
});

test('If-None-Match answers 304 with no body, on a hit and on a fresh miss', async () => {
  const first = await client.get('/static');
  const etag = first.headers.get('etag')!;
  for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
    const r = await client.get('/static', { headers: { 'if-none-match': inm } });
    assert.deepEqual([r.status, r.text, x(r), r.headers.get('etag')], [304, '', 'HIT', etag], inm);
  }
  const other = await client.get('/static', { headers: { 'if-none-match': '"nope"' } });
  assert.equal(other.status, 200);
  // The same representation rebuilt after a clear has the same ETag: a revalidating client still gets 304.
  await cache.invalidate({ tags: ['things'] });
  const fresh = await client.get('/static', { headers: { 'if-none-match': etag } });
  assert.deepEqual([fresh.status, x(fresh), fresh.text], [304, 'MISS', '']);
  assert.equal(t.calls.static, 2);
});

test('declared vary headers keep separate entries', async () => {
  const en = await client.get('/lang', { headers: { 'accept-language': 'en' } });
  const fr = await client.get('/lang', { headers: { 'accept-language': 'fr' } });
  const en2 = await client.get('/lang', { headers: { 'accept-language': 'en' } });
  assert.deepEqual([en.json().lang, fr.json().lang, en2.json().lang], ['en', 'fr', 'en']);
  assert.deepEqual([x(en), x(fr), x(en2)], ['MISS', 'MISS', 'HIT']);
  assert.equal(en2.headers.get('vary'), 'accept-language');
  assert.notEqual(en.headers.get('etag'), fr.headers.get('etag'));
});

test('Authorization or Cookie on a public route bypasses the cache', async () => {
  await client.get('/things/c');
  for (const headers of [{ authorization: 'Bearer x' }, { cookie: 'a=1' }] as Record<string, string>[]) {
    const r = await client.get('/things/c', { headers });
    assert.deepEqual([x(r), r.headers.get('cache-control')], ['BYPASS', 'private']);
    assert.match(r.headers.get('cache-status')!, /fwd=bypass; detail=credentials/);
  }
  assert.equal(t.calls.things, 3);
  assert.equal(x(await client.get('/things/c')), 'HIT');
});

for (const path of ['/me', '/me/named']) {
  test(`a private route keys on the principal (${path}): one user never receives another user's response`, async () => {
    const alice = await client.get(path, { headers: { 'x-user': 'alice' } });
    const bob = await client.get(path, { headers: { 'x-user': 'bob' } });
    const alice2 = await client.get(path, { headers: { 'x-user': 'alice' } });
    const bob2 = await client.get(path, { headers: { 'x-user': 'bob' } });
    assert.deepEqual([alice.json().name, bob.json().name, alice2.json().name, bob2.json().name], ['alice', 'bob', 'alice', 'bob']);
    assert.deepEqual([x(alice), x(bob), x(alice2), x(bob2)], ['MISS', 'MISS', 'HIT', 'HIT']);
    assert.match(alice2.headers.get('cache-control')!, /^private, max-age=/);
    assert.equal((await client.get(path)).status, 401);
    assert.equal(t.calls[path.slice(1)], 2);
  });
}

test('a private route\'s principal option: a dependency that names no principal is refused when the route is declared', () => {
  const anonymous = defineDependency({ name: 'anonymous', resolve: () => ({}) });
  assert.throws(() => cache.route({ ttl: 60, scope: 'private', principal: anonymous }), /dependency "anonymous" names no principal/);
});

test('tag invalidation and namespace clear drop entries; a client never reads its own write stale', async () => {
  await client.get('/things/d');
  await client.get('/lang', { headers: { 'accept-language': 'en' } });
  assert.equal(x(await client.get('/things/d')), 'HIT');
  assert.equal((await client.post('/things/d')).status, 204);
  const after = await client.get('/things/d');
  assert.deepEqual([x(after), after.json().n], ['MISS', 2]);
  assert.equal(x(await client.get('/lang', { headers: { 'accept-language': 'en' } })), 'HIT', 'other tags untouched');
  assert.equal(await cache.invalidate({ namespace: 'lang' }), true);
  assert.equal(x(await client.get('/lang', { headers: { 'accept-language': 'en' } })), 'MISS');
  assert.equal(x(await client.get('/things/d')), 'HIT', 'other namespaces untouched');
});

test('errors are never cached: 404 and 500 run the handler every time', async () => {
  for (const id of ['missing', 'boom']) {
    const a = await client.get(`/things/${id}`);
    const b = await client.get(`/things/${id}`);
    assert.deepEqual([a.status, b.status], id === 'missing' ? [404, 404] : [500, 500]);
    assert.equal(a.headers.get('etag'), null);
  }
  assert.equal(t.calls.things, 4);
});

test('responses with Set-Cookie, and bodies over the size cap, are served but not stored', async () => {
  const a = await client.get('/cookie');
  const b = await client.get('/cookie');
  assert.deepEqual([x(a), x(b), b.json().n], ['MISS', 'MISS', 2]);
  assert.match(b.headers.get('cache-status')!, /detail=set-cookie/);
  const big = await client.get('/things/big?big=20000');
  const big2 = await client.get('/things/big?big=20000');
  assert.deepEqual([big.status, x(big2), big2.json().n], [200, 'MISS', 2]);
  assert.match(big2.headers.get('cache-status')!, /detail=too-large/);
});

test('request no-store is not stored; request no-cache is ignored by default', async () => {
  const a = await client.get('/things/e', { headers: { 'cache-control': 'no-store' } });
  const b = await client.get('/things/e');
  assert.deepEqual([x(a), x(b)], ['MISS', 'MISS']);
  const c = await client.get('/things/e', { headers: { 'cache-control': 'no-cache' } });
  const d = await client.get('/things/e', { headers: { pragma: 'no-cache' } });
  assert.deepEqual([x(c), x(d)], ['HIT', 'HIT']);
  assert.equal(t.calls.things, 2);
});

test('with honorNoCache, request no-cache refreshes the stored response', async () => {
  const own = createCache({ store: memoryCacheStore({ maxEntries: 100, maxBytes: 1 << 20 }), log, timeoutMs: 500, honorNoCache: true });
  const app = cacheTestApp(own);
  const c = await testClient(app.app);
  try {
    assert.equal((await c.get('/things/f')).json().n, 1);
    const revalidated = await c.get('/things/f', { headers: { 'cache-control': 'no-cache' } });
    assert.deepEqual([x(revalidated), revalidated.json().n], ['MISS', 2]);
    const hit = await c.get('/things/f');
    assert.deepEqual([x(hit), hit.json().n], ['HIT', 2]);
  } finally {
    await c.close();
  }
});

test('concurrent misses in one process run the handler once and all get its response', async () => {
  t.slowMs.value = 150;
  const responses = await Promise.all(Array.from({ length: 20 }, () => client.get('/slow')));
  assert.equal(t.calls.slow, 1);
  assert.ok(responses.every((r) => r.status === 200 && r.text === responses[0].text));
  assert.equal(responses.filter((r) => x(r) === 'MISS').length, 1);
});

test('stale-while-revalidate: a stale entry is served at once while one refresh runs', async () => {
  assert.equal((await client.get('/swr')).json().n, 1);
  clock.elapse(31_000);
  const stale = await Promise.all([client.get('/swr'), client.get('/swr'), client.get('/swr')]);
  assert.ok(stale.every((r) => x(r) === 'STALE' && r.json().n === 1), 'stale served');
  assert.equal(stale[0].headers.get('cache-control'), 'public, max-age=0');
  for (let i = 0; i < 100 && x(await client.get('/swr')) !== 'HIT'; i++) await sleep(10);
  const fresh = await client.get('/swr');
  assert.deepEqual([x(fresh), fresh.json().n], ['HIT', 2]);
  assert.equal(t.calls.swr, 2, 'one refresh for three stale reads');
});

test('stale-if-error: a failing handler is answered with the stale entry within the window', async () => {
  assert.equal((await client.get('/stale-if-error')).json().n, 1);
  clock.elapse(31_000);
  t.failing.on = true;
  const stale = await client.get('/stale-if-error');
  assert.deepEqual([stale.status, x(stale), stale.json().n], [200, 'STALE', 1]);
  assert.match(stale.headers.get('cache-status')!, /detail=stale-if-error/);
  t.failing.on = false;
  const fresh = await client.get('/stale-if-error');
  assert.deepEqual([fresh.status, x(fresh), fresh.json().n], [200, 'MISS', 3]);
});

test('the in-memory store serves the same semantics in one process', async () => {
  const own = createCache({ store: memoryCacheStore({ maxEntries: 100, maxBytes: 1 << 20 }), log, timeoutMs: 500 });
  const app = cacheTestApp(own);
  const c = await testClient(app.app);
  try {
    const a = await c.get('/things/m');
    const b = await c.get('/things/m');
    assert.deepEqual([x(a), x(b), b.text], ['MISS', 'HIT', a.text]);
    assert.equal((await c.post('/things/m')).status, 204);
    assert.equal(x(await c.get('/things/m')), 'MISS');
  } finally {
    await c.close();
  }
});

test('counters count what the cache did, and /metrics can render them', async () => {
  const c = cache.counters();
  assert.ok(c.hits > 0 && c.misses > 0 && c.stores > 0 && c.bypasses > 0 && c.notModified > 0 && c.coalesced > 0);
  assert.equal(c.circuit, 'closed');
  const text = renderPrometheus((await cacheCollector(cache)()) as MetricFamily[]);
  assert.match(text, new RegExp(`^skiff_cache_hits_total ${c.hits}$`, 'm'));
  assert.match(text, /^skiff_cache_circuit_open 0$/m);
});

test('a cached operation documents If-None-Match, 304 and the cache headers', () => {
  const operation: Record<string, unknown> = { responses: { '200': { description: 'ok' }, '404': { description: 'no' } } };
  documentCaching(operation, 'public');
  const params = operation.parameters as { name: string; in: string }[];
  assert.deepEqual(params.map((p) => [p.name, p.in]), [['If-None-Match', 'header']]);
  const responses = operation.responses as Record<string, { headers?: Record<string, unknown> }>;
  assert.deepEqual(Object.keys(responses['200'].headers!).sort(), ['Age', 'Cache-Control', 'Cache-Status', 'ETag', 'X-Cache']);
  assert.equal(responses['404'].headers, undefined);
  assert.ok(responses['304']);
});
