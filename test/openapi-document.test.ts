// The OpenAPI document of the example service: valid by a real validator, equal to the committed snapshot,
// complete, and built by the rules (names, $refs, automatic responses, security, start-up errors).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { Type } from '@sinclair/typebox';
import { createApp, createRouter, defineDependency, type Interceptor } from '../src/router/index.ts';
import { buildDocument, mountDocs, openApiDocument, type OpenApiDocument } from '../src/openapi/index.ts';
import { testClient } from '../src/testing/index.ts';
import { startExampleApp, type RunningExample } from './contract-app.ts';

let running: RunningExample;
let live: OpenApiDocument;

before(async () => {
  running = await startExampleApp();
  const res = await running.client.get('/openapi.json');
  assert.equal(res.status, 200);
  live = res.json();
});
after(() => running.stop());

const clone = <T>(x: T): T => structuredClone(x);

describe('the served document', () => {
  test('is valid OpenAPI 3.1 for @readme/openapi-parser: no errors, no warnings', async () => {
    const result = await validate(clone(live) as never);
    assert.deepEqual(result.valid ? [] : result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.equal(live.openapi, '3.1.0');
  });

  test('the validator is live: it rejects an optional path parameter', async () => {
    const broken = clone(live);
    const getItem = broken.paths['/v1/items/{id}'].get!;
    (getItem.parameters as { required: boolean }[])[0].required = false;
    const result = await validate(broken as never);
    assert.equal(result.valid, false);
  });

  test('lists every route of the app, and none of the docs routes', () => {
    const documented = Object.entries(live.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    const served = running.app.routes().map((r) => `${r.method} ${r.path}`).filter((r) => !/openapi\.json|\/redoc|\/docs/.test(r));
    assert.deepEqual(documented.sort(), served.sort());
    assert.ok(served.length >= 7);
  });

  test('names title and version after package.json and describes every tag', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.deepEqual([live.info.title, live.info.version], [pkg.name, pkg.version]);
    assert.ok(live.tags!.length >= 2);
    for (const tag of live.tags!) assert.ok(tag.description, `tag ${tag.name} has a description`);
  });

  test('uses no OpenAPI 3.0 `nullable`, and every $ref points at a component', () => {
    const text = JSON.stringify(live);
    assert.doesNotMatch(text, /"nullable"/);
    for (const [, name] of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(live.components.schemas[name], name);
    assert.deepEqual(Object.keys(live.components.schemas), Object.keys(live.components.schemas).sort());
  });

  test('a write route lists every response the server can send, with the API key scheme', () => {
    const create = live.paths['/v1/items'].post!;
    assert.deepEqual(Object.keys(create.responses), ['201', '400', '401', '403', '409', '413', '415', '422', '429', '503', 'default']);
    // Rate-limited per API key: the 429 and the RateLimit header fields on the 2xx (RATE_LIMIT_WRITE_*).
    assert.deepEqual(Object.keys((create.responses['429'] as any).headers).sort(), ['RateLimit', 'RateLimit-Policy', 'Retry-After']);
    assert.match((create.responses['201'] as any).headers['RateLimit-Policy'].description, /`writes`: 60 per 60 s, burst 20/);
    assert.deepEqual(create.security, [{ ApiKeyAuth: [] }]);
    assert.deepEqual(live.components.securitySchemes!.ApiKeyAuth, { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'One of the keys in API_KEYS.' });
    const ref = (status: string) => (create.responses[status] as any).content['application/problem+json'].schema.$ref;
    // 422 is also the answer to an Idempotency-Key reused with another request (a plain problem).
    assert.deepEqual((create.responses['422'] as any).content['application/problem+json'].schema.anyOf.map((s: { $ref: string }) => s.$ref), ['#/components/schemas/ValidationProblem', '#/components/schemas/Problem']);
    assert.equal(ref('default'), '#/components/schemas/Problem');
    assert.deepEqual(live.paths['/healthz'].get!.security, [], 'a public operation says so');
  });
});

describe('building a document', () => {
  const info = { title: 't', version: '1' };
  const build = (router: ReturnType<typeof createRouter>) => {
    const app = createApp();
    app.include(router);
    return buildDocument(app.routes(), info);
  };
  const ok = () => null as never;

  test('derives readable operationIds', () => {
    const id = Type.Object({ id: Type.String() });
    const doc = build(createRouter({ prefix: '/v1' })
      .get('/items', {}, ok).post('/items', {}, ok).get('/items/{id}', { params: id }, ok).patch('/items/{id}', { params: id }, ok)
      .put('/items/{id}', { params: id }, ok).delete('/items/{id}', { params: id }, ok).post('/jobs/{id}/cancel', { params: id }, ok)
      .get('/users/{id}/categories', { params: id }, ok).get('/healthz', {}, ok));
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((o) => o.operationId));
    assert.deepEqual(ids, ['listItems', 'createItem', 'getItem', 'updateItem', 'replaceItem', 'deleteItem', 'cancelJob', 'listUserCategories', 'getHealthz']);
  });

  test('a route with includeInSchema: false serves but is left out, and its operationId cannot clash', async () => {
    const app = createApp();
    app.get('/internal', { includeInSchema: false, operationId: 'same', response: { 200: Type.Object({ ok: Type.Boolean() }) } }, () => ({ ok: true }));
    app.get('/public', { operationId: 'same' }, ok);
    const doc = buildDocument(app.routes(), info);
    assert.deepEqual(Object.keys(doc.paths), ['/public']);
    const client = await testClient(app);
    try {
      const res = await client.get('/internal');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { ok: true });
    } finally {
      await client.close();
    }
  });

  test('lint rules every document meets: servers, explicit public security, a 4xx per operation, used tags only', () => {
    const app = createApp();
    const secured = defineDependency({ name: 'key', security: { id: 'Key', scheme: { type: 'apiKey', in: 'header', name: 'X-Key' } }, resolve: () => 1 });
    app.include(createRouter({ tags: ['probes'] }).get('/ping', { response: { 200: Type.Object({ ok: Type.Boolean() }) } }, ok));
    app.include(createRouter({ tags: ['things'] }).post('/things', { deps: { secured } }, ok));
    const doc = buildDocument(app.routes(), { ...info, tags: [{ name: 'unused', description: 'no route has it' }, { name: 'things', description: 'd' }], license: { name: 'MIT', identifier: 'MIT' } });
    assert.deepEqual(doc.servers, [{ url: '/' }], 'no servers configured: the same origin, said outright');
    assert.deepEqual(doc.info.license, { name: 'MIT', identifier: 'MIT' });
    assert.deepEqual(doc.tags, [{ name: 'things', description: 'd' }, { name: 'probes' }]);
    const ping = doc.paths['/ping'].get!;
    assert.deepEqual(ping.security, []);
    assert.deepEqual(Object.keys(ping.responses), ['200', '4XX', 'default']);
    const things = doc.paths['/things'].post!;
    assert.deepEqual(things.security, [{ Key: [] }]);
    assert.equal(things.responses['4XX'], undefined, 'an operation with its own 4xx lists no range');
  });

  test('two routes with one operationId are an error naming both', () => {
    const router = createRouter().get('/a', { operationId: 'same' }, ok).get('/b', { operationId: 'same' }, ok);
    assert.throws(() => build(router), { code: 'SKIFF_OPENAPI_DUPLICATE_OPERATION_ID', message: /operationId "same" is used by both GET \/a and GET \/b/ });
  });

  test('mountDocs stops the start-up on a duplicate operationId, even with the docs off', () => {
    const app = createApp();
    app.include(createRouter().get('/items', {}, ok).get('/things', { operationId: 'listItems' }, ok));
    assert.throws(() => mountDocs(app, null), /GET \/items and GET \/things/);
  });

  test('schemas with an $id become one component each, referenced wherever they appear', () => {
    const Tag = Type.Object({ name: Type.String() }, { $id: 'Tag' });
    const Thing = Type.Object({ tags: Type.Array(Tag), main: Tag, parent: Type.Union([Tag, Type.Null()]) }, { $id: 'Thing' });
    const doc = build(createRouter().get('/things', { response: { 200: Type.Array(Thing) } }, () => []).post('/tags', { body: Tag, response: { 201: Tag } }, ok));
    assert.deepEqual(Object.keys(doc.components.schemas), ['FieldError', 'Problem', 'Tag', 'Thing', 'ValidationProblem']);
    assert.deepEqual(doc.components.schemas.Thing.properties, {
      tags: { type: 'array', items: { $ref: '#/components/schemas/Tag' } },
      main: { $ref: '#/components/schemas/Tag' },
      parent: { anyOf: [{ $ref: '#/components/schemas/Tag' }, { type: 'null' }] },
    });
  });

  test('two different schemas with one $id are an error', () => {
    const A = Type.Object({ a: Type.String() }, { $id: 'Same' });
    const B = Type.Object({ b: Type.String() }, { $id: 'Same' });
    assert.throws(() => build(createRouter().get('/a', { response: { 200: A } }, ok).get('/b', { response: { 200: B } }, ok)), { code: 'SKIFF_OPENAPI_DUPLICATE_SCHEMA_ID', message: /two different schemas share the \$id "Same"/ });
  });

  test('a 3.0 `nullable` is refused (validation would ignore it); a union with null is kept as it is', () => {
    assert.throws(() => build(createRouter().get('/n', { response: { 200: Type.Object({ x: Type.String({ nullable: true }) }) } }, ok)), { code: 'SKIFF_OPENAPI_INVALID_SCHEMA', message: /Type.Union\(\[T, Type.Null\(\)\]\)/ });
    const doc = build(createRouter().get('/u', { response: { 200: Type.Object({ x: Type.Union([Type.String(), Type.Null()]) }) } }, ok));
    const schema = (doc.paths['/u'].get!.responses['200'] as any).content['application/json'].schema;
    assert.deepEqual(schema.properties.x, { anyOf: [{ type: 'string' }, { type: 'null' }] });
  });

  test('parameters come from the params, query and headers schemas; a default makes one optional', () => {
    const doc = build(createRouter().get('/items/{id}', {
      params: Type.Object({ id: Type.Integer({ description: 'The id.', examples: [7] }) }),
      query: Type.Object({ limit: Type.Integer({ default: 20 }), q: Type.Optional(Type.String()), tag: Type.Array(Type.String()) }),
      headers: Type.Object({ 'x-trace': Type.String(), 'content-type': Type.String() }),
    }, ok));
    const params = doc.paths['/items/{id}'].get!.parameters as any[];
    assert.deepEqual(params.map((p) => [p.name, p.in, p.required]), [
      ['id', 'path', true], ['limit', 'query', false], ['q', 'query', false], ['tag', 'query', true], ['x-trace', 'header', true],
    ]);
    assert.equal(params[0].description, 'The id.');
    assert.equal(params[0].example, 7);
    assert.deepEqual(Object.keys(doc.paths['/items/{id}'].get!.responses), ['400', '414', '422', 'default']);
  });

  test('a route without inputs gets no 422, only the declared responses, the 4XX range and default', () => {
    const doc = build(createRouter().get('/plain', { response: { 200: Type.String(), 204: { description: 'Nothing' } } }, ok));
    const responses = doc.paths['/plain'].get!.responses;
    assert.deepEqual(Object.keys(responses), ['200', '204', '4XX', 'default']);
    assert.equal(responses['204'].content, undefined);
  });

  test('bearer security from a dependency, on every route of a router, with 401 and 403', () => {
    const bearer = defineDependency({ name: 'user', security: { id: 'Bearer', scheme: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }, resolve: () => ({ id: 'u' }) });
    const doc = build(createRouter({ dependencies: { bearer } }).get('/me', {}, ok));
    assert.deepEqual(doc.paths['/me'].get!.security, [{ Bearer: [] }]);
    assert.deepEqual(doc.components.securitySchemes, { Bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } });
    assert.ok(doc.paths['/me'].get!.responses['401'] && doc.paths['/me'].get!.responses['403']);
  });

  test("an interceptor's openapi hook documents what it adds", () => {
    const cache: Interceptor = {
      name: 'cache',
      around: (_ctx, next) => next(),
      openapi(operation) {
        (operation.responses as Record<string, unknown>)['304'] = { description: 'Not Modified' };
      },
    };
    const doc = build(createRouter().get('/cached', { use: [cache], response: { 200: Type.String() } }, ok));
    assert.deepEqual(Object.keys(doc.paths['/cached'].get!.responses), ['200', '304', '4XX', 'default']);
    const limited: Interceptor = { ...cache, openapi: (operation) => void ((operation.responses as Record<string, unknown>)['429'] = { description: 'Too Many Requests' }) };
    const withOwn4xx = build(createRouter().get('/limited', { use: [limited] }, ok));
    assert.deepEqual(Object.keys(withOwn4xx.paths['/limited'].get!.responses), ['429', 'default'], 'a 4xx added by an interceptor counts');
  });

  test('openApiDocument returns what mountDocs built', () => {
    assert.equal(openApiDocument(running.app), openApiDocument(running.app));
    assert.deepEqual(openApiDocument(running.app), live);
  });
});
