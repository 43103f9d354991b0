// Matching, composition, and the answers the router gives on its own (404, 405, HEAD, OPTIONS).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { createApp, createRouter, defineDependency, HttpError } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

const silent = createLogger('silent');
const echo = (name: string) => (ctx: { params: unknown }) => ({ route: name, params: ctx.params });

describe('matching', () => {
  let client: TestClient;
  before(async () => {
    const app = createApp({ log: silent, maxParamLength: 20 });
    app
      .get('/files/*', {}, echo('wildcard'))
      .get('/files/{name}', {}, echo('param'))
      .get('/files/readme', {}, echo('static'))
      .get('/files/{name}/meta', {}, echo('param-meta'))
      .get('/files/readme/raw', {}, echo('static-raw'))
      .get('/', {}, echo('root'));
    client = await testClient(app);
  });
  after(() => client.close());

  test('static beats parameter beats wildcard', async () => {
    assert.equal((await client.get('/files/readme')).json().route, 'static');
    assert.equal((await client.get('/files/other')).json().route, 'param');
    assert.deepEqual((await client.get('/files/a/b/c')).json(), { route: 'wildcard', params: { '*': 'a/b/c' } });
  });

  test('backtracks from a static branch that does not lead anywhere', async () => {
    assert.deepEqual((await client.get('/files/readme/meta')).json(), { route: 'param-meta', params: { name: 'readme' } });
    assert.equal((await client.get('/files/readme/raw')).json().route, 'static-raw');
  });

  test('parameters are percent-decoded; a bad encoding is a 400 problem', async () => {
    assert.deepEqual((await client.get('/files/a%20b%2Fc')).json().params, { name: 'a b/c' });
    const bad = await client.get('/files/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json');
    assert.equal(bad.json().code, 'MALFORMED_PATH');
  });

  test('a parameter longer than maxParamLength is refused with 414', async () => {
    const res = await client.get('/files/' + 'x'.repeat(21));
    assert.equal(res.status, 414);
    assert.equal(res.json().code, 'URI_TOO_LONG');
  });

  test('a trailing slash is insignificant; the query string is ignored for matching', async () => {
    assert.equal((await client.get('/files/readme/')).json().route, 'static');
    assert.equal((await client.get('/files/readme?x=1')).json().route, 'static');
    assert.equal((await client.get('/')).json().route, 'root');
  });

  test('an unknown path is a 404 problem', async () => {
    const res = await client.get('/nothing/here');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(res.json(), { type: 'about:blank', title: 'Not Found', status: 404, detail: 'No resource at this path.', code: 'NOT_FOUND' });
  });

  test('a known path with the wrong method is a 405 with Allow', async () => {
    const res = await client.request('DELETE', '/files/readme');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(res.json().code, 'METHOD_NOT_ALLOWED');
  });

  test('HEAD is answered by the GET handler, with its headers and no body', async () => {
    const get = await client.get('/files/readme');
    const head = await client.request('HEAD', '/files/readme');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-length'), get.headers.get('content-length'));
    assert.equal(head.headers.get('content-type'), 'application/json');
  });

  test('OPTIONS is answered with Allow', async () => {
    const res = await client.request('OPTIONS', '/files/readme');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
  });
});

describe('the headers every answer carries', () => {
  let client: TestClient;
  before(async () => {
    const app = createApp({ log: silent, responseValidation: false });
    app
      .get('/hello', { response: { 200: Type.Object({ hello: Type.String() }) } }, () => ({ hello: 'world' }))
      .get('/items/{id}', { params: Type.Object({ id: Type.Integer() }), response: { 200: Type.Object({ id: Type.Integer() }) } }, (ctx) => ({ id: ctx.params.id }))
      .get('/own', { response: { 201: Type.Object({ made: Type.Boolean() }) } }, (ctx) => ctx.reply(201, { made: true }, { 'x-own': 'yes', 'content-security-policy': "default-src 'self'" }))
      .get('/boom', {}, () => {
        throw new Error('boom');
      });
    client = await testClient(app);
  });
  after(() => client.close());

  const SECURITY_CSP = "default-src 'none'; frame-ancestors 'none'";
  function assertCarried(res: { status: number; headers: Headers }, what: string): string {
    const id = res.headers.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f]{8}-[0-9a-z]+$/, `${what}: request id`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
    return id;
  }

  test('success, error, 404, 405, HEAD and OPTIONS answers all carry nosniff, a CSP and a fresh request id', async () => {
    const answers = [
      ['GET /hello', await client.get('/hello')],
      ['GET /hello again', await client.get('/hello')],
      ['GET /items/7', await client.get('/items/7')],
      ['GET /items/x', await client.get('/items/x')],
      ['GET /boom', await client.get('/boom')],
      ['GET /nothing', await client.get('/nothing')],
      ['DELETE /hello', await client.request('DELETE', '/hello')],
      ['HEAD /hello', await client.request('HEAD', '/hello')],
      ['OPTIONS /hello', await client.request('OPTIONS', '/hello')],
    ] as const;
    assert.deepEqual(answers.map(([, res]) => res.status), [200, 200, 200, 422, 500, 404, 405, 200, 204]);
    const ids = answers.map(([what, res]) => {
      assert.equal(res.headers.get('content-security-policy'), SECURITY_CSP, `${what}: CSP`);
      return assertCarried(res, what);
    });
    assert.equal(new Set(ids).size, ids.length, 'each answer has its own request id');
  });

  test('the fast path sends its five headers and the body, and a static match is never mixed with a parameter one', async () => {
    const hello = await client.get('/hello');
    assert.deepEqual([...hello.headers.keys()].filter((n) => !['date', 'connection', 'keep-alive'].includes(n)).sort(),
      ['content-length', 'content-security-policy', 'content-type', 'x-content-type-options', 'x-request-id']);
    assert.equal(hello.text, '{"hello":"world"}');
    assert.equal(hello.headers.get('content-length'), String(hello.text.length));
    // A static path is answered from one shared match: a parameter route in between must not leak into it.
    assert.deepEqual((await client.get('/items/9')).json(), { id: 9 });
    assert.equal((await client.get('/hello')).text, '{"hello":"world"}');
  });

  test("a handler's own headers are kept, its own CSP wins, and nosniff and the request id are still added", async () => {
    const own = await client.get('/own');
    assert.equal(own.status, 201);
    assert.equal(own.headers.get('x-own'), 'yes');
    assert.equal(own.headers.get('content-security-policy'), "default-src 'self'");
    assertCarried(own, 'GET /own');
  });

  test('a client request id is echoed on every kind of answer', async () => {
    for (const [method, path] of [['GET', '/hello'], ['GET', '/nothing'], ['HEAD', '/hello'], ['OPTIONS', '/hello'], ['DELETE', '/hello']]) {
      const res = await client.request(method, path, { headers: { 'x-request-id': 'trace-42' } });
      assert.equal(res.headers.get('x-request-id'), 'trace-42', `${method} ${path}`);
    }
  });
});

describe('composition', () => {
  test('routers nest with prefixes, tags and dependencies', async () => {
    const calls: string[] = [];
    const guard = defineDependency({ name: 'guard', resolve: () => void calls.push('guard') });
    const leaf = createRouter({ prefix: '/leaf', tags: ['leaf'] }).get('/{id}', { tags: ['own'] }, echo('leaf'));
    const mid = createRouter({ prefix: '/mid' }).include(leaf, { tags: ['mid'] });
    const app = createApp({ log: silent }).include(mid, { prefix: '/v1', dependencies: { guard } });
    const [route] = app.routes();
    assert.equal(route.path, '/v1/mid/leaf/{id}');
    assert.deepEqual([...route.tags].sort(), ['leaf', 'mid', 'own']);
    assert.deepEqual(route.dependencies, [guard]);
    const client = await testClient(app);
    try {
      assert.deepEqual((await client.get('/v1/mid/leaf/7')).json(), { route: 'leaf', params: { id: '7' } });
      assert.deepEqual(calls, ['guard']);
    } finally {
      await client.close();
    }
  });

  test('a duplicate route is a start-up error naming both', () => {
    const app = createApp({ log: silent });
    app.get('/a/{id}', {}, echo('one'));
    app.include(createRouter({ prefix: '/a' }).get('/{id}', {}, echo('two')));
    assert.throws(() => app.compile(), { code: 'SKIFF_ROUTE_CONFLICT', message: /GET \/a\/\{id\} is declared twice/ });
  });

  test('conflicting parameter names at one position are a start-up error naming both routes', () => {
    const app = createApp({ log: silent });
    app.get('/items/{id}', {}, echo('one'));
    app.delete('/items/{itemId}/tags', {}, echo('two'));
    assert.throws(() => app.compile(), { code: 'SKIFF_ROUTE_CONFLICT', message: /DELETE \/items\/\{itemId\}\/tags names a parameter \{itemId\} where GET \/items\/\{id\} has \{id\}/ });
  });

  test('a params schema naming a parameter the path lacks is a start-up error', () => {
    const app = createApp({ log: silent });
    app.get('/items/{id}', { params: Type.Object({ id: Type.String(), other: Type.String() }) }, echo('x'));
    assert.throws(() => app.compile(), { code: 'SKIFF_ROUTE_INVALID', message: /declares other/ });
  });

  test('routes cannot be added once the app has compiled, to the app or to any router it includes', () => {
    const leaf = createRouter();
    const mid = createRouter().include(leaf);
    const app = createApp({ log: silent }).include(mid);
    app.compile();
    const sealed = { code: 'SKIFF_ROUTER_SEALED', message: /^SKIFF_ROUTER_SEALED: GET \/late: routes cannot be added after the app compiled/ };
    assert.throws(() => app.get('/late', {}, echo('late')), sealed);
    // Before: an included router took these silently and they were never served.
    assert.throws(() => mid.get('/late', {}, echo('late')), sealed);
    assert.throws(() => leaf.get('/late', {}, echo('late')), sealed);
    assert.throws(() => leaf.include(createRouter()), { code: 'SKIFF_ROUTER_SEALED' });
  });

  test('one ctx.deps name given to two different dependencies is a start-up error', () => {
    const a = defineDependency({ name: 'a', resolve: () => 1 });
    const b = defineDependency({ name: 'b', resolve: () => 2 });
    const app = createApp({ log: silent, dependencies: { auth: a } }).get('/x', { deps: { auth: b } }, () => null);
    assert.throws(() => app.compile(), { code: 'SKIFF_ROUTE_CONFLICT', message: /GET \/x: ctx\.deps\.auth names two dependencies \(a and b\)/ });
  });
});

describe('dependencies', () => {
  test('results are passed to the handler; a rejection becomes its problem+json', async () => {
    const user = defineDependency({
      name: 'user',
      resolve: (ctx) => {
        const token = ctx.req.headers.authorization;
        if (token === undefined) throw HttpError.of('UNAUTHORIZED');
        if (token !== 'Bearer good') throw HttpError.of('FORBIDDEN');
        return { name: 'ada' };
      },
    });
    const app = createApp({ log: silent }).get('/me', { deps: { user }, response: { 200: Type.Object({ name: Type.String() }) } }, (ctx) => ({ name: ctx.deps.user.name }));
    const client = await testClient(app);
    try {
      assert.equal((await client.get('/me')).status, 401);
      assert.equal((await client.get('/me', { headers: { authorization: 'Bearer bad' } })).json().code, 'FORBIDDEN');
      assert.deepEqual((await client.get('/me', { headers: { authorization: 'Bearer good' } })).json(), { name: 'ada' });
    } finally {
      await client.close();
    }
  });

  test('router-level dependencies are a record: results land in ctx.deps by name, typed on the router\'s handlers', async () => {
    let resolved = 0;
    const key = defineDependency({
      name: 'apiKey',
      resolve: (ctx) => {
        resolved++;
        if (ctx.req.headers['x-api-key'] !== 'k1') throw HttpError.of('UNAUTHORIZED');
        return { keyId: 'k1' };
      },
    });
    const tenant = defineDependency({ name: 'tenant', resolve: () => 'acme' });
    const Out = Type.Object({ keyId: Type.String(), tenant: Type.String() });
    const router = createRouter({ prefix: '/r', dependencies: { auth: key } })
      // The router's `auth` and the route's own `tenant`, both typed: no cast.
      .get('/who', { deps: { tenant }, response: { 200: Out } }, (ctx) => ({ keyId: ctx.deps.auth.keyId, tenant: ctx.deps.tenant }))
      // Named again on the route, under another name: resolved once, stored under both.
      .get('/again', { deps: { key } }, (ctx) => ({ same: ctx.deps.key === ctx.deps.auth }));
    const app = createApp({ log: silent }).include(router, { dependencies: { tenant } });
    const client = await testClient(app);
    try {
      assert.equal((await client.get('/r/who')).status, 401);
      assert.deepEqual((await client.get('/r/who', { headers: { 'x-api-key': 'k1' } })).json(), { keyId: 'k1', tenant: 'acme' });
      resolved = 0;
      assert.deepEqual((await client.get('/r/again', { headers: { 'x-api-key': 'k1' } })).json(), { same: true });
      assert.equal(resolved, 1);
    } finally {
      await client.close();
    }
  });
});
