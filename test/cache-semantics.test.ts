import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { acceptsBrotli } from '../src/cache/compression.ts';
import { decodeEntry, encodeEntry, strongEtag } from '../src/cache/entry.ts';
import { ifNoneMatchMatches, requestDirectives, unstorableReason } from '../src/cache/http.ts';
import { normalisePath, requestKey, type KeyParts } from '../src/cache/index.ts';

const base: KeyParts = { method: 'GET', path: '/v1/items', query: { a: 1, b: 'x' }, vary: [], headers: {}, principal: undefined };

test('the request key is the same in another process (no per-process salt)', () => {
  const script = `import { requestKey } from './src/cache/index.ts'; process.stdout.write(requestKey(${JSON.stringify(base)}));`;
  const other = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(other, requestKey(base));
});

test('unreserved escapes and HEAD do not change the key; path, validated query values and method do', () => {
  const key = requestKey(base);
  assert.equal(requestKey({ ...base, method: 'HEAD' }), key);
  assert.equal(requestKey({ ...base, path: '/v1/%69tems' }), key);
  assert.notEqual(requestKey({ ...base, query: { a: 1, b: 'y' } }), key);
  assert.notEqual(requestKey({ ...base, query: { a: '1', b: 'x' } }), key, 'the coerced type is part of the key');
  assert.notEqual(requestKey({ ...base, path: '/v1/items2' }), key);
  assert.notEqual(requestKey({ ...base, method: 'POST' }), key);
  assert.equal(normalisePath('/a%2fb/%7e'), '/a%2Fb/~');
});

test('declared vary headers and the principal separate keys; undeclared headers do not', () => {
  const withVary = { ...base, vary: ['accept-language'] };
  const en = requestKey({ ...withVary, headers: { 'accept-language': 'en' } });
  assert.notEqual(requestKey({ ...withVary, headers: { 'accept-language': 'fr' } }), en);
  assert.equal(requestKey({ ...withVary, headers: { 'accept-language': ' en ', 'x-other': '1' } }), en);
  assert.notEqual(requestKey({ ...base, principal: 'alice' }), requestKey({ ...base, principal: 'bob' }));
  assert.notEqual(requestKey({ ...base, principal: 'alice' }), requestKey(base));
});

test('the ETag is strong, quoted and a pure function of status, content type and body', () => {
  const etag = strongEtag(200, 'application/json', Buffer.from('{"a":1}'));
  assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
  assert.equal(strongEtag(200, 'application/json', Buffer.from('{"a":1}')), etag);
  assert.notEqual(strongEtag(200, 'application/json', Buffer.from('{"a":2}')), etag);
  assert.notEqual(strongEtag(200, 'text/plain', Buffer.from('{"a":1}')), etag);
});

test('an entry round-trips through its stored bytes; garbage decodes to null', () => {
  const body = Buffer.from([0, 10, 255, 10]);
  const entry = {
    status: 200, headers: { 'content-type': 'application/octet-stream' }, etag: '"x"', storedAt: 1000, freshUntil: 61000,
    staleUntil: 71000, errorUntil: 81000, body, brotliEtag: null, identity: body, identityLength: 4,
  };
  const decoded = decodeEntry(encodeEntry(entry));
  assert.deepEqual(decoded, entry);
  // A compressed body keeps its brotli ETag and uncompressed length; the uncompressed bytes are not stored.
  const compressed = { ...entry, brotliEtag: '"x-br"', identity: Buffer.alloc(2000), identityLength: 2000 };
  assert.deepEqual(decodeEntry(encodeEntry(compressed)), { ...compressed, identity: null });
  assert.equal(decodeEntry(Buffer.from('hello')), null);
  assert.equal(decodeEntry(Buffer.from('12\n{not json\nbody')), null);
});

test('If-None-Match: weak comparison, lists, and *', () => {
  const etag = '"abc"';
  assert.equal(ifNoneMatchMatches('"abc"', etag), true);
  assert.equal(ifNoneMatchMatches('W/"abc"', etag), true);
  assert.equal(ifNoneMatchMatches('"x", W/"y",  "abc"', etag), true);
  assert.equal(ifNoneMatchMatches('*', etag), true);
  assert.equal(ifNoneMatchMatches('"abcd", "ab"', etag), false);
  assert.equal(ifNoneMatchMatches('abc', etag), false);
  assert.equal(ifNoneMatchMatches(undefined, etag), false);
});

test('Accept-Encoding admits br when listed or by *, unless its weight is 0', () => {
  for (const yes of ['br', 'gzip, deflate, br', 'gzip;q=1.0, br;q=0.5', 'BR', '*', 'gzip, *;q=0.1', '*;q=0, br']) assert.equal(acceptsBrotli(yes), true, yes);
  for (const no of [undefined, '', 'gzip, deflate', 'identity', 'br;q=0', 'br; q=0.0', '*;q=0', 'br;q=0, *', 'brotli', 'gzip, xbr']) assert.equal(acceptsBrotli(no), false, String(no));
});

test('request directives: no-store, no-cache, max-age=0 and Pragma', () => {
  assert.deepEqual(requestDirectives({}), { noStore: false, noCache: false });
  assert.deepEqual(requestDirectives({ 'cache-control': 'No-Store' }), { noStore: true, noCache: false });
  assert.deepEqual(requestDirectives({ 'cache-control': 'max-age=0' }), { noStore: false, noCache: true });
  assert.deepEqual(requestDirectives({ 'cache-control': 'no-cache, no-store' }), { noStore: true, noCache: true });
  assert.deepEqual(requestDirectives({ pragma: 'no-cache' }), { noStore: false, noCache: true });
  assert.deepEqual(requestDirectives({ 'cache-control': 'max-age=10' }), { noStore: false, noCache: false });
});

test('what may be stored: declared statuses only, no Set-Cookie, no private/no-store, no undeclared Vary', () => {
  const ok = new Set([200]);
  assert.equal(unstorableReason(200, {}, ok, []), null);
  assert.equal(unstorableReason(404, {}, ok, []), 'status');
  assert.equal(unstorableReason(500, {}, ok, []), 'status');
  assert.equal(unstorableReason(200, { 'set-cookie': 'a=1' }, ok, []), 'set-cookie');
  assert.equal(unstorableReason(200, { 'cache-control': 'private, max-age=5' }, ok, []), 'cache-control');
  assert.equal(unstorableReason(200, { 'cache-control': 'no-store' }, ok, []), 'cache-control');
  assert.equal(unstorableReason(200, { vary: 'Accept-Language' }, ok, ['accept-language']), null);
  assert.equal(unstorableReason(200, { vary: 'Accept-Language, Origin' }, ok, ['accept-language']), 'vary');
});
