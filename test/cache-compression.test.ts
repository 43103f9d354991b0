// Large entries are stored brotli-compressed once and served per Accept-Encoding: br as stored, identity
// decompressed, each with its own ETag and 304, `Vary: Accept-Encoding`, HEAD with the length of the encoding sent.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { brotliDecompressSync } from 'node:zlib';
import { after, before, beforeEach, test } from 'node:test';
import { compressEntry } from '../src/cache/compression.ts';
import type { StoredResponse } from '../src/cache/entry.ts';
import { startCacheHarness, type CacheHarness } from './support/cache-app.ts';
import { redisCommand } from './support/redis.ts';
import { rawGet, type RawAnswer } from './support/raw-get.ts';

let h: CacheHarness;
before(async () => {
  h = await startCacheHarness({ timeoutMs: 500 });
});
after(() => h.stop());
beforeEach(async () => {
  await h.server.flush();
  for (const k of Object.keys(h.calls)) delete h.calls[k];
});

const BR = { 'accept-encoding': 'gzip, deflate, br' };
const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> => rawGet(h.client.url + path, headers, method);
const plain = (path: string) => Buffer.from(JSON.stringify({ id: 'big', n: 1, pad: 'x'.repeat(Number(/big=(\d+)/.exec(path)![1])) }));

/** Bytes Redis holds for the one entry key of the test's own server. */
async function storedBytes(): Promise<number> {
  const keys = (await redisCommand(h.server.port, ['KEYS', 'test:cache:*:e:*'])) as string[];
  assert.equal(keys.length, 1);
  return Number(await redisCommand(h.server.port, ['STRLEN', keys[0]]));
}

test('a large body is stored compressed and served as stored to br clients, decompressed to others', async () => {
  const path = '/things/big?big=20000';
  const miss = await get(path, BR);
  assert.equal(miss.headers['x-cache'], 'MISS');
  assert.ok((await storedBytes()) < 2000, 'the entry holds the compressed body');
  for (const [first, second] of [[BR, {}], [{}, BR]] as const) {
    const a = await get(path, first);
    const b = await get(path, second);
    for (const r of [a, b]) {
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-cache'], 'HIT');
      assert.equal(r.headers.vary, 'accept-encoding');
      assert.equal(r.headers['content-type'], 'application/json');
    }
  }
  const br = await get(path, BR);
  const identity = await get(path, { 'accept-encoding': 'gzip, br;q=0' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(Number(br.headers['content-length']), br.body.length);
  assert.ok(br.body.length < 2000);
  assert.deepEqual(brotliDecompressSync(br.body), plain(path));
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.deepEqual(identity.body, plain(path));
  assert.equal(Number(identity.headers['content-length']), plain(path).length);
  // One ETag per encoding, each stable: the identity one is the usual strong digest, the br one derived from it.
  assert.match(identity.headers.etag as string, /^"[\w-]{27}"$/);
  assert.equal(br.headers.etag, (identity.headers.etag as string).slice(0, -1) + '-br"');
  assert.equal(miss.headers.etag, br.headers.etag);
  assert.equal(h.calls.things, 1);
});

test('304 per encoding: each ETag matches only its own representation', async () => {
  const path = '/things/big?big=5000';
  const br = await get(path, BR);
  const identity = await get(path);
  const brTag = br.headers.etag as string;
  const idTag = identity.headers.etag as string;
  assert.notEqual(brTag, idTag);
  const notModified = await get(path, { ...BR, 'if-none-match': brTag });
  assert.deepEqual([notModified.status, notModified.body.length, notModified.headers.etag, notModified.headers.vary], [304, 0, brTag, 'accept-encoding']);
  assert.equal(notModified.headers['content-encoding'], undefined);
  assert.equal((await get(path, { 'if-none-match': idTag })).status, 304);
  // A client whose encoding changed gets the other representation in full.
  const switchedToIdentity = await get(path, { 'if-none-match': brTag });
  assert.deepEqual([switchedToIdentity.status, switchedToIdentity.headers.etag], [200, idTag]);
  assert.deepEqual(switchedToIdentity.body, plain(path));
  const switchedToBr = await get(path, { ...BR, 'if-none-match': idTag });
  assert.deepEqual([switchedToBr.status, switchedToBr.headers.etag, switchedToBr.headers['content-encoding']], [200, brTag, 'br']);
});

test('HEAD on a compressed entry: the headers of the GET for that encoding, no body', async () => {
  const path = '/things/big?big=8000';
  const brGet = await get(path, BR);
  const idGet = await get(path);
  const brHead = await get(path, BR, 'HEAD');
  const idHead = await get(path, {}, 'HEAD');
  for (const [head, full] of [[brHead, brGet], [idHead, idGet]] as const) {
    assert.deepEqual([head.status, head.headers['x-cache'], head.body.length], [200, 'HIT', 0]);
    for (const name of ['content-length', 'content-encoding', 'etag', 'vary', 'content-type']) assert.equal(head.headers[name], full.headers[name], name);
  }
  assert.equal(Number(idHead.headers['content-length']), plain(path).length);
  assert.ok(Number(brHead.headers['content-length']) < 1000);
});

test('small bodies are stored and sent as they are, with no Vary', async () => {
  const small = await get('/things/small', BR);
  const hit = await get('/things/small', BR);
  for (const r of [small, hit]) {
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.headers.vary, undefined);
  }
  assert.equal(hit.headers['x-cache'], 'HIT');
  assert.deepEqual(JSON.parse(hit.body.toString()), { id: 'small', n: 1 });
  assert.equal(await storedBytes() > hit.body.length, true);
});

test('a body that does not shrink by 10 % is stored uncompressed; a handler\'s own encoding is kept', async () => {
  const entry = (body: Buffer, headers: Record<string, string> = {}): StoredResponse => ({
    status: 200, headers: { 'content-type': 'application/octet-stream', ...headers }, etag: '"e"', storedAt: 0, freshUntil: 1, staleUntil: 1, errorUntil: 1,
    body, brotliEtag: null, identity: body, identityLength: body.length,
  });
  const random = entry(randomBytes(4096));
  assert.equal(await compressEntry(random), random);
  const encoded = entry(Buffer.alloc(4096), { 'content-encoding': 'gzip' });
  assert.equal(await compressEntry(encoded), encoded);
  const compressible = await compressEntry(entry(Buffer.alloc(4096)));
  assert.equal(compressible.brotliEtag, '"e-br"');
  assert.equal(compressible.headers.vary, 'accept-encoding');
  assert.deepEqual(brotliDecompressSync(compressible.body), Buffer.alloc(4096));
});
