// The one suite both test clients pass: testClient (a loopback socket) and inject (no socket). Same app, same
// requests, same expectations, so a test written against one holds against the other.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createApp, createRouter, HttpError, type App } from '../../src/router/index.ts';
import { createLogger } from '../../src/log.ts';
import type { TestClient } from '../../src/testing/index.ts';

const Thing = Type.Object({ id: Type.Integer(), name: Type.String({ maxLength: 20 }) }, { additionalProperties: false });

/** Streams released so far (by name), for the streams case. */
export const released: string[] = [];

/** An app with a route for each behaviour the suite checks. */
export function clientContractApp(): App {
  const app = createApp({ log: createLogger('silent'), bodyLimitBytes: 1024 });
  const things = createRouter({ prefix: '/things' })
    .get('/{id}', {
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: { 200: Thing },
    }, (ctx) => {
      if (ctx.params.id === 404) throw HttpError.of('NOT_FOUND', 'No thing 404.');
      return { id: ctx.params.id, name: 'lamp' };
    })
    .post('', { body: Thing, response: { 201: Thing } }, (ctx) => ctx.reply(201, ctx.body, { location: `/things/${ctx.body.id}` }))
    .put('/{id}', { params: Type.Object({ id: Type.Integer() }), body: Thing, response: { 200: Thing } }, (ctx) => ({ ...ctx.body, id: ctx.params.id }))
    .patch('/{id}', {
      params: Type.Object({ id: Type.Integer() }),
      body: Type.Object({ name: Type.String({ maxLength: 20 }) }),
      response: { 200: Thing },
    }, (ctx) => ({ id: ctx.params.id, name: ctx.body.name }))
    .delete('/{id}', { params: Type.Object({ id: Type.Integer() }), response: { 204: { description: 'Gone.' } } }, (ctx) => ctx.reply(204, null))
    .post('/small', { body: Type.Object({ text: Type.String() }), bodyLimit: 64, response: { 200: Type.Object({ length: Type.Integer() }) } }, (ctx) => ({ length: ctx.body.text.length }));
  const misc = createRouter()
    .get('/boom', { response: { 200: Type.Object({}) } }, () => {
      throw new Error('a bug');
    })
    .get('/lines/{name}', {
      params: Type.Object({ name: Type.String({ maxLength: 20 }) }),
      response: { 200: { description: 'Lines of text.', contentType: 'text/plain', schema: Type.String() } },
    }, (ctx) => {
      async function* lines() {
        for (let i = 1; i <= 3; i++) {
          await new Promise((r) => setImmediate(r));
          yield `line ${i}\n`;
        }
      }
      return ctx.stream(200, lines(), { 'content-type': 'text/plain' }, { onClose: () => void released.push(ctx.params.name) });
    });
  app.include(things);
  app.include(misc);
  return app;
}

export function clientContract(name: string, makeClient: (app: App) => Promise<TestClient>): void {
  let client: TestClient;
  before(async () => {
    client = await makeClient(clientContractApp());
  });
  after(() => client.close());

  test(`${name}: GET answers the schema's fields as JSON, with the core's headers; json<T>() parses it`, async () => {
    const res = await client.get('/things/7', { headers: { 'x-request-id': 'req-42' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-request-id'), 'req-42');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(res.text)));
    const thing = res.json<{ id: number; name: string }>();
    assert.deepEqual(thing, { id: 7, name: 'lamp' });
  });

  test(`${name}: errors are problem+json: a thrown HttpError, a bad parameter (422), an unknown path, a wrong method, a bug (500)`, async () => {
    const missing = await client.get('/things/404');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(missing.json(), { type: 'about:blank', title: 'Not Found', status: 404, detail: 'No thing 404.', code: 'NOT_FOUND' });
    const invalid = await client.get('/things/abc');
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.json().errors.map((e: { loc: unknown[] }) => e.loc), [['path', 'id']]);
    assert.equal((await client.get('/nowhere')).json().code, 'NOT_FOUND');
    const wrongMethod = await client.request('POST', '/things/7', { body: {} });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS');
    const bug = await client.get('/boom');
    assert.equal(bug.status, 500);
    assert.equal(bug.json().code, 'INTERNAL');
  });

  test(`${name}: POST, PUT, PATCH and DELETE carry their bodies and statuses`, async () => {
    const created = await client.post('/things', { id: 3, name: 'desk' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/things/3');
    assert.deepEqual(created.json(), { id: 3, name: 'desk' });
    assert.deepEqual((await client.put('/things/4', { id: 0, name: 'chair' })).json(), { id: 4, name: 'chair' });
    assert.deepEqual((await client.patch('/things/5', { name: 'shelf' })).json(), { id: 5, name: 'shelf' });
    const deleted = await client.delete('/things/6');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
  });

  test(`${name}: HEAD answers the GET's status and headers without a body; OPTIONS lists the methods`, async () => {
    const get = await client.get('/things/8');
    const head = await client.head('/things/8');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-length'), get.headers.get('content-length'));
    assert.equal(head.headers.get('content-type'), 'application/json');
    const options = await client.options('/things/8');
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS');
  });

  test(`${name}: bodies are refused as problem+json: 415 another media type, 413 past the limit, 400 malformed, 422 the schema`, async () => {
    const wrongType = await client.post('/things', 'id=1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual([wrongType.status, wrongType.json().code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    const tooLarge = await client.post('/things/small', { text: 'x'.repeat(100) });
    assert.deepEqual([tooLarge.status, tooLarge.json().code], [413, 'BODY_TOO_LARGE']);
    const malformed = await client.post('/things', '{"id": 1,', { headers: { 'content-type': 'application/json' } });
    assert.deepEqual([malformed.status, malformed.json().code], [400, 'MALFORMED_JSON']);
    const invalid = await client.post('/things', { id: 'one', name: 'desk' });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.json().errors.map((e: { loc: unknown[] }) => e.loc), [['body', 'id']]);
    assert.equal((await client.post('/things/small', { text: 'short' })).json().length, 5);
  });

  test(`${name}: a streamed body arrives whole and is released once; HEAD never starts it but releases it`, async () => {
    const streamed = await client.get(`/lines/${name}-get`);
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get('content-type'), 'text/plain');
    assert.equal(streamed.text, 'line 1\nline 2\nline 3\n');
    const head = await client.head(`/lines/${name}-head`);
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    for (let i = 0; i < 100 && released.filter((r) => r.startsWith(`${name}-`)).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(released.filter((r) => r.startsWith(`${name}-`)).sort(), [`${name}-get`, `${name}-head`]);
  });
}
