// The cache key is built from the route's validated query (what the handler reads), so query spellings the
// handler reads differently never share an entry, undeclared parameters never mint entries, and a query longer
// than the parser keeps is refused instead of cut short. On a public route, X-API-Key can be a credential header.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCacheHarness, type CacheHarness } from './support/cache-app.ts';

let h: CacheHarness;
before(async () => {
  h = await startCacheHarness({ timeoutMs: 1000 });
});
after(() => h.stop());

test('a repeated parameter read as its last value: reordered repeats are different requests', async () => {
  const first = await h.client.get('/things/rep?q=a&q=home');
  assert.equal(first.json().q, 'home');
  const second = await h.client.get('/things/rep?q=home&q=a');
  assert.equal(second.json().q, 'a', 'served what the handler reads for this query, not the other order\'s entry');
  assert.equal((await h.client.get('/things/rep?q=home')).headers.get('x-cache'), 'HIT', 'the same validated query shares the entry');
});

test('undeclared query parameters do not mint entries', async () => {
  const before = h.calls.things ?? 0;
  for (let i = 0; i < 200; i++) {
    const res = await h.client.get(`/things/junk?q=x&junk=${i}`);
    assert.equal(res.status, 200);
    assert.equal(res.json().q, 'x');
  }
  assert.equal(h.calls.things - before, 1, 'one entry, filled once');
});

test('a query with more pairs than the parser keeps is a 400 problem, not a truncated read', async () => {
  const junk = Array.from({ length: 999 }, (_, i) => `j${i}=1`).join('&');
  const res = await h.client.get(`/things/long?${junk}&q=tail&big=1`);
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.json().code, 'TOO_MANY_QUERY_PARAMETERS');
  const atLimit = await h.client.get(`/things/long?${Array.from({ length: 999 }, (_, i) => `j${i}=1`).join('&')}&q=last`);
  assert.equal(atLimit.status, 200, '1000 pairs are still read whole');
  assert.equal(atLimit.json().q, 'last');
});

test('X-API-Key bypasses a public route that lists it as a credential header; Authorization still does', async () => {
  await h.client.get('/api-keyed');
  assert.equal((await h.client.get('/api-keyed')).headers.get('x-cache'), 'HIT');
  for (const header of ['x-api-key', 'authorization']) {
    const res = await h.client.get('/api-keyed', { headers: { [header]: 'secret' } });
    assert.equal(res.headers.get('x-cache'), 'BYPASS', header);
    assert.equal(res.headers.get('cache-control'), 'private');
  }
});
