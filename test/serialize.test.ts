// Response serializers write only what the schema declares, whatever its shape (intersections, unions, records,
// tuples), and a value they cannot filter is a logged 500, never the value as it is.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { createApp } from '../src/router/index.ts';
import { compileSerializer } from '../src/schema/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

const Named = Type.Intersect([Type.Object({ id: Type.String() }), Type.Object({ name: Type.String() })]);
const leaky = { id: '1', name: 'n', secret: 'pw' };

describe('compiled serializers', () => {
  test('an intersection is written as the one object it describes', () => {
    assert.equal(compileSerializer(Named)(leaky), '{"id":"1","name":"n"}');
    const nested = Type.Intersect([
      Type.Object({ id: Type.String(), meta: Type.Object({ a: Type.Integer() }) }),
      Type.Intersect([Type.Object({ meta: Type.Object({ b: Type.Integer() }) }), Type.Object({ tags: Type.Optional(Type.Array(Type.String())) })]),
    ]);
    const value = { id: 'x', meta: { a: 1, b: 2, hidden: 3 }, tags: ['t'], password: 'p' };
    assert.deepEqual(JSON.parse(compileSerializer(nested)(value)), { id: 'x', meta: { a: 1, b: 2 }, tags: ['t'] });
  });

  test('a string is written exactly as JSON.stringify writes it: escapes, surrogates, short and long', () => {
    const write = compileSerializer(Type.String());
    const samples = ['', 'world', 'say "hi"', 'C:\\temp', 'line\nbreak\ttab\u0001', '\u007f é € \u2028', '\ud83d\ude00 pair', 'lone \ud83d', 'lone \ude00 low', 'x'.repeat(41) + '"', 'y'.repeat(100)];
    for (const value of samples) assert.equal(write(value), JSON.stringify(value), JSON.stringify(value));
    assert.throws(() => write({ a: 1 }), /where the response schema declares a scalar/);
  });

  test('an intersection of something other than objects is refused when the route is compiled', () => {
    assert.throws(() => compileSerializer(Type.Intersect([Type.Object({ a: Type.String() }), Type.Union([Type.Object({ b: Type.String() }), Type.Null()])])), /declare it as one Type.Object/);
    assert.equal(compileSerializer(Type.Intersect([Type.String(), Type.String({ minLength: 1 })]))('s'), '"s"');
  });

  test('a union writes the value through the member it matches; no member matching throws', () => {
    const Shape = Type.Union([Type.Object({ kind: Type.Literal('a'), a: Type.String() }), Type.Object({ kind: Type.Literal('b'), b: Type.Integer() })]);
    const write = compileSerializer(Shape);
    assert.equal(write({ kind: 'b', b: 2, secret: 'pw' }), '{"kind":"b","b":2}');
    assert.throws(() => write({ kind: 'c', secret: 'pw' }), { name: 'UnfilterableResponseError' });
    assert.throws(() => compileSerializer(Type.Union([Type.Literal('x'), Type.Literal('y')]))('z'), { name: 'UnfilterableResponseError' });
  });

  test('records and tuples filter their values; typed extra properties are written through their schema', () => {
    const byName = Type.Record(Type.String(), Type.Object({ n: Type.Integer() }));
    assert.equal(compileSerializer(byName)({ a: { n: 1, secret: 'pw' }, b: { n: 2 } }), '{"a":{"n":1},"b":{"n":2}}');
    const byIndex = Type.Record(Type.Integer(), Type.String());
    assert.equal(compileSerializer(byIndex)({ 1: 'one', x: 'not an index' }), '{"1":"one"}');
    const pair = Type.Tuple([Type.String(), Type.Object({ n: Type.Integer() })]);
    assert.equal(compileSerializer(pair)(['a', { n: 1, secret: 'pw' }, 'third']), '["a",{"n":1}]');
    const open = Type.Object({ id: Type.String() }, { additionalProperties: Type.Object({ v: Type.Number() }) });
    assert.equal(compileSerializer(open)({ id: 'i', x: { v: 1, secret: 'pw' } }), '{"id":"i","x":{"v":1}}');
  });

  test('an object where the schema declares a scalar throws instead of going out whole', () => {
    const write = compileSerializer(Type.Object({ name: Type.String(), n: Type.Number(), ok: Type.Boolean() }));
    for (const value of [{ name: leaky, n: 1, ok: true }, { name: 'x', n: leaky, ok: true }, { name: 'x', n: 1, ok: [leaky] }]) {
      assert.throws(() => write(value), { name: 'UnfilterableResponseError' });
    }
    assert.equal(write({ name: 'x', n: 1, ok: true }), '{"name":"x","n":1,"ok":true}');
  });

  test('Unknown and Any declare any value: it is written whole', () => {
    assert.equal(compileSerializer(Type.Object({ data: Type.Unknown() }))({ data: { deep: [1, { x: 2 }] } }), '{"data":{"deep":[1,{"x":2}]}}');
  });
});

describe('over HTTP, with and without response validation', () => {
  const lines: string[] = [];
  const clients: TestClient[] = [];
  const urls: Record<string, TestClient> = {};

  before(async () => {
    for (const validation of [true, false]) {
      const app = createApp({ log: createLogger('error', {}, (line) => void lines.push(line)), responseValidation: validation });
      app.get('/intersect', { response: { 200: Named } }, () => leaky);
      app.get('/union', { response: { 200: Type.Union([Type.Object({ id: Type.Integer() }), Type.Object({ code: Type.Integer() })]) } }, () => leaky as never);
      const client = await testClient(app);
      clients.push(client);
      urls[validation ? 'validated' : 'production'] = client;
    }
  });
  after(() => Promise.all(clients.map((c) => c.close())));

  for (const mode of ['validated', 'production']) {
    test(`${mode}: an intersection's undeclared field never leaves the server`, async () => {
      const res = await urls[mode].get('/intersect');
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"id":"1","name":"n"}');
    });
  }

  test('production: a value matching no union member is a logged 500, without its fields', async () => {
    lines.length = 0;
    const res = await urls.production.get('/union');
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.doesNotMatch(res.text, /pw|secret/);
    assert.ok(lines.some((l) => l.includes('/union') && l.includes('matches none of the members')), lines.join('\n'));
  });
});
