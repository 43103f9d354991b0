// The example service end to end over a real socket and a real Redis, every response checked against the
// OpenAPI document by the contract helper; problem bodies are proven to be byte-for-byte what the documented
// Problem / ValidationProblem schemas describe.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { ProblemSchema, ValidationProblemSchema } from '../src/errors.ts';
import { openApiDocument } from '../src/openapi/index.ts';
import { compileSerializer } from '../src/schema/index.ts';
import { startExampleApp, TEST_API_KEY, type RunningExample } from './contract-app.ts';
import { openApiContract, type OpenApiContract, type TestClient, type TestResponse } from '../src/testing/index.ts';

let running: RunningExample;
let contract: OpenApiContract;
let api: TestClient;
const auth = { 'x-api-key': TEST_API_KEY };
const json = { 'content-type': 'application/json' };

before(async () => {
  running = await startExampleApp({ redis: true, env: { REDIS_COMMAND_TIMEOUT_MS: '200' } });
  contract = await openApiContract(openApiDocument(running.app));
  api = contract.wrap(running.client);
});
after(() => running.stop());

const serializeProblem = compileSerializer(ProblemSchema);
const serializeValidationProblem = compileSerializer(ValidationProblemSchema);

/** The body re-serialized through its documented schema gives back the exact bytes the server sent. */
function assertExactProblem(res: TestResponse, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = res.json();
  const schema = status === 422 ? ValidationProblemSchema : ProblemSchema;
  assert.ok(Value.Check(schema, body), `${res.text} matches ${schema.$id}`);
  assert.equal((status === 422 ? serializeValidationProblem : serializeProblem)(body), res.text);
}

test('health and readiness answer as documented', async () => {
  assert.equal((await api.get('/healthz')).status, 200);
  assert.equal((await api.get('/readyz')).status, 200);
});

test('the item lifecycle answers as documented', async () => {
  const created = await api.post('/v1/items', { name: 'Lamp', price: 12.5, tags: ['home'] }, { headers: auth });
  assert.equal(created.status, 201);
  const { id } = created.json();
  assert.equal((await api.get(`/v1/items/${id}`)).status, 200);
  assert.equal((await api.get('/v1/items?limit=5&tag=home')).status, 200);
  assert.equal((await api.request('PATCH', `/v1/items/${id}`, { body: { price: 10 }, headers: auth })).status, 200);
  assert.equal((await api.request('DELETE', `/v1/items/${id}`, { headers: auth })).status, 204);
  for (const [method, body] of [['GET', undefined], ['PATCH', { price: 1 }], ['DELETE', undefined]] as const) {
    assertExactProblem(await api.request(method, `/v1/items/${id}`, { body, headers: auth }), 404);
  }
});

test('every automatic problem is documented, and its body is exactly the documented schema', async () => {
  const item = '/v1/items';
  assertExactProblem(await api.post(item, { name: 'x', price: 1 }), 401);
  assertExactProblem(await api.post(item, { name: 'x', price: 1 }, { headers: { 'x-api-key': 'wrong' } }), 401);
  assertExactProblem(await api.post(item, '{"name": ', { headers: { ...auth, ...json } }), 400);
  assertExactProblem(await api.post(item, '{"__proto__": {"x": 1}, "name": "x", "price": 1}', { headers: { ...auth, ...json } }), 400);
  assertExactProblem(await api.post(item, 'name=x', { headers: { ...auth, 'content-type': 'text/plain' } }), 415);
  assertExactProblem(await api.post(item, JSON.stringify({ name: 'x'.repeat(1_100_000), price: 1 }), { headers: { ...auth, ...json } }), 413);
  assertExactProblem(await api.post(item, { name: '', price: -1, extra: true }, { headers: auth }), 422);
  assertExactProblem(await api.request('POST', item, { headers: auth }), 422);
  assertExactProblem(await api.get(`${item}?limit=0`), 422);
  assertExactProblem(await api.get(`${item}/NOT-AN-ID`), 422);
  assertExactProblem(await api.get(`${item}/${'a'.repeat(101)}`), 414);
  assertExactProblem(await api.get(`${item}/%E0%A4%A`), 400);
  assertExactProblem(await api.request('PATCH', `${item}/0000000000000000`, { body: {}, headers: auth }), 422);
});

test('a hung Redis gives the documented 503s', async () => {
  const created = (await api.post('/v1/items', { name: 'Kept', price: 1 }, { headers: auth })).json();
  const redis = running.redis!;
  redis.pause();
  try {
    assertExactProblem(await api.get('/readyz'), 503);
    assertExactProblem(await api.get('/v1/items'), 503);
    assertExactProblem(await api.get(`/v1/items/${created.id}`), 503);
    assertExactProblem(await api.post('/v1/items', { name: 'x', price: 1 }, { headers: auth }), 503);
  } finally {
    redis.resume();
  }
});

test('the contract helper refuses a response the document does not allow', () => {
  const headers = new Headers({ 'content-type': 'application/json' });
  assert.throws(() => contract.check('GET', '/healthz', { status: 201, headers, text: '{}' }), /only errors may fall to the default response/);
  assert.throws(() => contract.check('GET', '/healthz', { status: 404, headers, text: '{}' }), /the document says application\/problem\+json/);
  assert.throws(() => contract.check('GET', '/healthz', { status: 200, headers, text: '{"status":"bad"}' }), /breaks its schema/);
  assert.throws(() => contract.check('GET', '/healthz', { status: 200, headers: new Headers({ 'content-type': 'text/plain' }), text: 'ok' }), /as text\/plain/);
  assert.throws(() => contract.check('DELETE', '/v1/items/0000000000000000', { status: 204, headers, text: 'x' }), /with a body/);
});

test('every documented success status was exercised; the rest is listed', (t) => {
  const missing = contract.unexercised();
  t.diagnostic(contract.summary());
  for (const operationId of ['getLiveness', 'getReadiness', 'listItems', 'createItem', 'getItem', 'updateItem', 'deleteItem']) {
    assert.ok(!missing.some((pair) => pair.startsWith(`${operationId} 2`)), `${operationId} success exercised`);
  }
});
