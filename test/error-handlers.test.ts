// The app's error handlers (`onError`) and not-found handler: what they may answer, the order they are consulted
// in, what happens when one throws, and the Redis → 503 mapping registered through the same hook.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { RedisTimeoutError, redisErrorAnswer } from '../src/redis/index.ts';
import { HttpError, Reply, createApp, createRouter, defineDependency, type App } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

class SeatTaken extends Error {
  constructor(readonly seat: string) {
    super(`seat ${seat} is taken`);
  }
}

const lines: string[] = [];
const log = createLogger('warn', {}, (line) => void lines.push(line));
const logged = (msg: string) => lines.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

/** The routes every app below serves: a domain error thrown from each place a request can throw. */
function withRoutes(app: App): App {
  const booking = defineDependency({ name: 'booking', resolve: (ctx) => {
    if (ctx.req.headers['x-seat'] === 'taken') throw new SeatTaken('dep');
    return null;
  } });
  return app
    .get('/sync', {}, () => { throw new SeatTaken('7A'); })
    .get('/async', {}, async () => { throw new SeatTaken('7B'); })
    .get('/dep', { deps: { booking } }, () => ({ ok: true }))
    .get('/bug', {}, () => { throw new TypeError('undefined is not a function'); })
    .get('/validated', { query: Type.Object({ n: Type.Integer() }) }, () => ({ ok: true }))
    .get('/redis', {}, () => { throw new RedisTimeoutError('redis did not answer within 1 ms'); })
    .post('/redis', {}, () => { throw new RedisTimeoutError('redis did not answer within 1 ms'); })
    .get('/ok', {}, () => ({ ok: true }));
}

describe('onError maps domain errors', () => {
  let client: TestClient;
  const seen: string[] = [];
  before(async () => {
    const app = withRoutes(createApp({ log, onError: redisErrorAnswer }))
      // A tracker: sees every error (the core's own 404 and 422 too), answers none.
      .onError((err, ctx) => void seen.push(`${ctx.method} ${ctx.path} ${err instanceof HttpError ? err.code : (err as Error).name}`))
      .onError((err) => {
        if (err instanceof SeatTaken) return HttpError.of('CONFLICT', err.message, { headers: { 'x-seat': err.seat } });
        return undefined;
      });
    client = await testClient(app);
  });
  after(() => client.close());

  test('a domain error thrown by a handler (sync or async) or a dependency becomes the 409 the handler chose, with its header', async () => {
    for (const [path, seat, headers] of [['/sync', '7A', {}], ['/async', '7B', {}], ['/dep', 'dep', { 'x-seat': 'taken' }]] as const) {
      const res = await client.get(path, { headers });
      assert.equal(res.status, 409, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.headers.get('x-seat'), seat);
      assert.equal(res.headers.get('x-request-id') !== null, true);
      assert.deepEqual(res.json(), { type: 'about:blank', title: 'Conflict', status: 409, detail: `seat ${seat} is taken`, code: 'CONFLICT' });
    }
    assert.equal((await client.get('/dep')).status, 200);
  });

  test('an error no handler answers falls through to the default: its own problem, or a logged 500', async () => {
    lines.length = 0;
    seen.length = 0;
    const bug = await client.get('/bug');
    assert.equal(bug.status, 500);
    assert.equal(bug.json().code, 'INTERNAL');
    assert.equal(logged('unhandled error').length, 1);
    assert.equal((await client.get('/validated?n=x')).status, 422);
    assert.equal((await client.get('/nowhere')).status, 404);
    assert.deepEqual(seen, ['GET /bug TypeError', 'GET /validated VALIDATION_FAILED', 'GET /nowhere NOT_FOUND']);
  });

  test('Redis not answering is still a 503 with Retry-After, registered as an error handler', async () => {
    lines.length = 0;
    const read = await client.get('/redis');
    assert.equal(read.status, 503);
    assert.equal(read.headers.get('retry-after'), '1');
    assert.equal(read.json().code, 'SERVICE_UNAVAILABLE');
    assert.equal(read.json().applied, false);
    // A write whose command was sent and never answered may have run: no `applied`.
    const write = await client.post('/redis');
    assert.equal(write.status, 503);
    assert.equal(write.json().code, 'OUTCOME_UNKNOWN');
    assert.equal('applied' in write.json(), false);
    assert.equal(logged('redis unavailable').length, 2);
    assert.equal(logged('unhandled error').length, 0);
  });
});

describe('a failing error handler', () => {
  test('one that throws is logged and the default answer goes out; the server keeps serving', async () => {
    lines.length = 0;
    let second = 0;
    const app = withRoutes(createApp({ log }))
      .onError(() => { throw new Error('tracker is down'); })
      .onError(() => void second++);
    const client = await testClient(app);
    try {
      const res = await client.get('/sync');
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.json().code, 'INTERNAL');
      const [failed] = logged('an error handler threw; answering by default');
      assert.equal(failed.err, 'tracker is down');
      assert.equal(failed.handling, 'seat 7A is taken');
      assert.equal(logged('unhandled error').length, 1);
      assert.equal(second, 0, 'the handlers after the one that threw are skipped');
      // An HttpError keeps its own answer even when the handler throws.
      assert.equal((await client.get('/validated?n=x')).status, 422);
      assert.deepEqual((await client.get('/ok')).json(), { ok: true });
    } finally {
      await client.close();
    }
  });

  test('one that returns something other than an HttpError or a Reply (a promise) is logged and skipped', async () => {
    lines.length = 0;
    const app = withRoutes(createApp({ log })).onError((async () => HttpError.of('CONFLICT')) as never);
    const client = await testClient(app);
    try {
      assert.equal((await client.get('/sync')).status, 500);
      assert.equal(logged('an error handler returned neither an HttpError nor a Reply; answering by default').length, 1);
    } finally {
      await client.close();
    }
  });

  test('without the Redis mapping registered, the core knows nothing of Redis: a 500', async () => {
    const client = await testClient(withRoutes(createApp({ log })));
    try {
      assert.equal((await client.get('/redis')).status, 500);
    } finally {
      await client.close();
    }
  });
});

describe('answers other than a problem', () => {
  test('onError may answer with a Reply: JSON, or text when it sets a content type', async () => {
    const app = withRoutes(createApp({ log }))
      .onError((err, ctx) => err instanceof SeatTaken
        ? (ctx.path === '/sync' ? new Reply(409, { seat: err.seat }, { 'x-seat': err.seat }) : new Reply(409, `taken: ${err.seat}`, { 'content-type': 'text/plain' }))
        : undefined);
    const client = await testClient(app);
    try {
      const json = await client.get('/sync');
      assert.equal(json.status, 409);
      assert.equal(json.headers.get('content-type'), 'application/json');
      assert.equal(json.headers.get('x-seat'), '7A');
      assert.deepEqual(json.json(), { seat: '7A' });
      const text = await client.get('/async');
      assert.equal(text.headers.get('content-type'), 'text/plain');
      assert.equal(text.text, 'taken: 7B');
    } finally {
      await client.close();
    }
  });

  test('a custom not-found answers unmatched paths; a known path with another method is still the 405 problem', async () => {
    const app = createApp({ log, notFound: (ctx) => HttpError.of('NOT_FOUND', `Nothing at ${ctx.path}; see /docs.`, { headers: { link: '</docs>; rel="help"' } }) });
    app.include(createRouter().get('/here', {}, () => ({ ok: true })));
    const client = await testClient(app);
    try {
      const missing = await client.get('/elsewhere');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json');
      assert.equal(missing.headers.get('link'), '</docs>; rel="help"');
      assert.equal(missing.json().detail, 'Nothing at /elsewhere; see /docs.');
      const wrongMethod = await client.post('/here');
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD, OPTIONS');
      assert.equal(wrongMethod.json().code, 'METHOD_NOT_ALLOWED');
    } finally {
      await client.close();
    }
  });

  test('a not-found handler that throws goes through onError, then the default', async () => {
    lines.length = 0;
    const app = createApp({ log })
      .notFound(() => { throw new SeatTaken('404'); })
      .onError((err) => (err instanceof SeatTaken ? new Reply(404, { gone: err.seat }, undefined) : undefined));
    const client = await testClient(app);
    try {
      const res = await client.get('/x');
      assert.equal(res.status, 404);
      assert.deepEqual(res.json(), { gone: '404' });
    } finally {
      await client.close();
    }
  });

  test('error and not-found handlers cannot be set once the app compiled its routes', () => {
    const app = createApp({ log });
    app.compile();
    assert.throws(() => app.onError(() => undefined), { code: 'SKIFF_ROUTER_SEALED' });
    assert.throws(() => app.notFound(() => HttpError.of('NOT_FOUND')), { code: 'SKIFF_ROUTER_SEALED' });
  });
});
