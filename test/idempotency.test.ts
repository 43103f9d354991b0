// Idempotency-Key on a core route over real sockets and a real Redis: replay, 422 on another request, 409 while
// the first runs, the same operation id on every run under a key, 400 on a bad key, 503 "not applied" with Redis
// hung, per-principal scope, TTL, and the OpenAPI it adds.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createIdempotency, idempotencyId } from '../src/idempotency/index.ts';
import { createLogger } from '../src/log.ts';
import { openApiDocument } from '../src/openapi/index.ts';
import { closeRedis, createRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp, defineDependency, HttpError } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { until } from './support/queue.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let redis: Redis;
let client: TestClient;
const log = createLogger('silent');
const TTL_S = 600;
const LEASE_MS = 400;
/** Every run of the handler: its operation id and body. */
const runs: { id: string | undefined; body: unknown }[] = [];
/** Runs that wait for the test to let them finish, by the body's `wait`. */
const waiting: { name: string; open: () => void }[] = [];
const waiters = (name: string) => waiting.filter((w) => w.name === name).length;
function release(name: string): void {
  for (const w of waiting.filter((x) => x.name === name)) {
    waiting.splice(waiting.indexOf(w), 1);
    w.open();
  }
}
let failNext: HttpError | null = null;

// The caller's principal is the `x-user` header: enough to show keys are per principal.
const user = defineDependency<string>({ name: 'user', resolve: (ctx) => String(ctx.req.headers['x-user'] ?? 'anonymous'), principal: (u) => u });

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 300, log });
  await until(() => redis.isReady);
  const idempotency = createIdempotency({ redis, prefix: 'it:', ttlS: TTL_S, leaseMs: LEASE_MS, log });
  const app = createApp({ log, redisTimeoutMs: 300, onError: redisErrorAnswer });
  const Body = Type.Object({ name: Type.String(), wait: Type.Optional(Type.String()) });
  const Created = Type.Object({ id: Type.String(), name: Type.String() });
  for (const path of ['/things', '/others']) {
    app.post(path, {
      operationId: path === '/things' ? 'createThing' : 'createOther',
      body: Body,
      deps: { user },
      use: [idempotency],
      response: { 201: { schema: Created, headers: { location: { schema: Type.String() } } }, 409: { description: 'Taken.', schema: Type.Object({ detail: Type.String() }) } },
    }, async (ctx) => {
      const id = idempotencyId(ctx);
      runs.push({ id, body: ctx.body });
      const name = ctx.body.wait;
      if (name !== undefined) await new Promise<void>((open) => waiting.push({ name, open }));
      if (failNext !== null) {
        const err = failNext;
        failNext = null;
        throw err;
      }
      const made = id ?? 'random';
      return ctx.reply(201, { id: made, name: ctx.body.name }, { location: `${path}/${made}` });
    });
  }
  client = await testClient(app);
});
after(async () => {
  for (const w of waiting) w.open();
  await client.close();
  await closeRedis(redis);
  await server.stop();
});

const post = (path: string, body: unknown, key?: string, principal = 'ann') =>
  client.post(path, body, { headers: { 'x-user': principal, ...(key === undefined ? {} : { 'idempotency-key': key }) } });

test('a retry with the same key and request gets the stored response, replayed; the handler ran once', async () => {
  runs.length = 0;
  const first = await post('/things', { name: 'a' }, 'key-1');
  assert.equal(first.status, 201);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  const again = await post('/things', { name: 'a' }, 'key-1');
  assert.equal(again.status, 201);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.text, first.text);
  assert.equal(again.headers.get('location'), first.headers.get('location'));
  assert.equal(again.headers.get('content-type'), 'application/json');
  assert.equal(runs.length, 1);
  assert.match(runs[0].id!, /^[0-9a-z]{26}$/, 'the handler got the operation id');
  assert.equal(first.json().id, runs[0].id);

  // Without a key, nothing is stored and there is no operation id.
  await post('/things', { name: 'a' });
  await post('/things', { name: 'a' });
  assert.equal(runs.length, 3);
  assert.equal(runs[2].id, undefined);
});

test('the same key with another body → 422; on another route or for another principal it is another key', async () => {
  await post('/things', { name: 'b' }, 'key-2');
  const other = await post('/things', { name: 'B' }, 'key-2');
  assert.equal(other.status, 422);
  assert.equal(other.headers.get('content-type'), 'application/problem+json');
  assert.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED');
  runs.length = 0;
  const elsewhere = await post('/others', { name: 'B' }, 'key-2');
  assert.equal(elsewhere.status, 201);
  assert.equal(elsewhere.headers.get('idempotent-replayed'), null);
  const bob = await post('/things', { name: 'b' }, 'key-2', 'bob');
  assert.equal(bob.status, 201);
  assert.equal(bob.headers.get('idempotent-replayed'), null, "bob does not get ann's response");
  assert.equal(runs.length, 2);
  assert.notEqual(runs[0].id, runs[1].id);
});

test('a retry while the first request runs → 409 with Retry-After; once it finished, the stored response', async () => {
  const first = post('/things', { name: 'c', wait: 'c' }, 'key-3');
  await until(() => waiters('c') === 1);
  const meanwhile = await post('/things', { name: 'c', wait: 'c' }, 'key-3');
  assert.equal(meanwhile.status, 409);
  assert.equal(meanwhile.json().code, 'IDEMPOTENCY_KEY_IN_USE');
  assert.equal(meanwhile.headers.get('retry-after'), '1');
  release('c');
  assert.equal((await first).status, 201);
  const later = await post('/things', { name: 'c', wait: 'c' }, 'key-3');
  assert.equal(later.headers.get('idempotent-replayed'), 'true');
});

test('a failed run gives its claim up: the retry runs again at once, under the same operation id', async () => {
  runs.length = 0;
  failNext = HttpError.of('SERVICE_UNAVAILABLE');
  assert.equal((await post('/things', { name: 'd' }, 'key-4')).status, 503);
  const retry = await post('/things', { name: 'd' }, 'key-4');
  assert.equal(retry.status, 201);
  assert.equal(runs.length, 2);
  assert.equal(runs[1].id, runs[0].id);
  assert.equal(retry.json().id, runs[0].id);
});

test('a claim whose request never finished lapses with its lease; the retry runs under the same operation id', async () => {
  runs.length = 0;
  const stuck = post('/things', { name: 'e', wait: 'e' }, 'key-5');
  await until(() => waiters('e') === 1);
  assert.equal((await post('/things', { name: 'e', wait: 'e2' }, 'key-5')).status, 422, 'the fingerprint covers the body');
  await new Promise((r) => setTimeout(r, LEASE_MS + 50));
  const retry = post('/things', { name: 'e', wait: 'e' }, 'key-5');
  await until(() => waiters('e') === 2);
  assert.equal(runs.length, 2);
  assert.equal(runs[1].id, runs[0].id);
  release('e');
  assert.equal((await stuck).status, 201);
  assert.equal((await retry).status, 201);
  assert.equal((await retry).json().id, runs[0].id);
});

test('a key that is not 1–255 printable ASCII characters → 400 problem+json, and the handler does not run', async () => {
  runs.length = 0;
  for (const bad of ['', 'x'.repeat(256), 'caf\u00e9']) {
    const res = await post('/things', { name: 'f' }, bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(res.json().code, 'IDEMPOTENCY_KEY_INVALID');
  }
  assert.equal((await post('/things', { name: 'f' }, 'x'.repeat(255))).status, 201);
  assert.equal((await post('/things', { name: 'f' }, ' "quoted" ~')).status, 201);
  assert.equal(runs.length, 2);
});

test('keys expire after the configured TTL', async () => {
  await post('/things', { name: 'g' }, 'key-7');
  const keys = await redis.keys('it:idem:*');
  const ttls = await Promise.all(keys.map((k) => redis.ttl(k)));
  assert.ok(ttls.length > 0 && ttls.every((t) => t > 0 && t <= TTL_S), `ttls ${ttls}`);
});

test('Redis hung while claiming → 503 "not applied" without running the handler; the late claim is refused', async () => {
  runs.length = 0;
  server.pause();
  try {
    const started = Date.now();
    const res = await post('/things', { name: 'h' }, 'key-8');
    assert.equal(res.status, 503);
    assert.match(res.json().detail, /not applied/);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.ok(Date.now() - started < 3 * 300 + 500, 'answered within the bound');
  } finally {
    server.resume();
  }
  assert.equal(await redis.ping(), 'PONG');
  assert.equal(runs.length, 0);
  // The claim that reached Redis after its deadline wrote nothing: the retry runs now instead of waiting (409).
  const retry = await post('/things', { name: 'h' }, 'key-8');
  assert.equal(retry.status, 201);
  assert.equal(runs.length, 1);
});

test('OpenAPI: the Idempotency-Key parameter, the Idempotent-Replayed header and the 400 / 409 / 422 answers', () => {
  const app = createApp({ log, onError: redisErrorAnswer });
  const idempotency = createIdempotency({ redis, prefix: 'it:', ttlS: 1, leaseMs: 1, log });
  app.post('/x', { operationId: 'x', body: Type.Object({ a: Type.String() }), use: [idempotency], response: { 201: Type.Object({ a: Type.String() }) } }, (ctx) => ctx.reply(201, ctx.body));
  const doc = openApiDocument(app) as any;
  const op = doc.paths['/x'].post;
  const param = op.parameters.find((p: any) => p.name === 'Idempotency-Key');
  assert.equal(param.in, 'header');
  assert.equal(param.schema.maxLength, 255);
  assert.ok(op.responses['201'].headers['Idempotent-Replayed']);
  assert.match(op.responses['409'].description, /still being processed/);
  assert.match(op.responses['400'].description, /Idempotency-Key/);
  assert.match(op.responses['422'].description, /already used with a different request/);
  assert.deepEqual(op.responses['422'].content['application/problem+json'].schema.anyOf[1], { $ref: '#/components/schemas/Problem' });
});
