// Coercion, defaults, bodies and the 4xx answers for bad input; response filtering and error mapping.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { ProblemSchema, problem } from '../src/errors.ts';
import { createApp, HttpError } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

const lines: string[] = [];
const log = createLogger('error', {}, (line) => void lines.push(line));
let client: TestClient;

const Color = Type.Union([Type.Literal('red'), Type.Literal('green')]);
const Thing = Type.Object({ name: Type.String({ minLength: 1 }), size: Type.Integer({ default: 1 }), nested: Type.Optional(Type.Object({ n: Type.Number() })) });

before(async () => {
  const app = createApp({ log, bodyLimitBytes: 1024 });
  app.get(
    '/coerce/{id}',
    {
      params: Type.Object({ id: Type.Integer() }),
      query: Type.Object({
        limit: Type.Integer({ minimum: 1, default: 10 }),
        ratio: Type.Optional(Type.Number()),
        flag: Type.Boolean({ default: false }),
        color: Type.Optional(Color),
        tag: Type.Array(Type.String(), { default: [] }),
        ids: Type.Optional(Type.Array(Type.Integer())),
      }),
      headers: Type.Object({ 'x-count': Type.Optional(Type.Integer()) }),
    },
    (ctx) => ({ params: ctx.params, query: ctx.query, headers: ctx.headers }),
  );
  app.post('/things', { body: Thing, response: { 201: Type.Object({ name: Type.String(), size: Type.Integer() }) } }, (ctx) => {
    const withInternalField = { ...ctx.body, secret: 'internal' };
    return ctx.reply(201, withInternalField);
  });
  app.post('/big', { body: Type.Object({ data: Type.String() }), bodyLimit: 4096 }, (ctx) => ({ length: ctx.body.data.length }));
  // Any JSON at all: nothing in the schema stands between a forbidden key and the handler.
  app.post('/any', { body: Type.Unknown(), bodyLimit: 100_000 }, (ctx) => ({ keys: Object.keys(ctx.body as object) }));
  app.post('/shallow', { body: Type.Unknown(), bodyMaxDepth: 3 }, () => ({ ok: true }));
  app.get('/leaky', { response: { 200: Type.Object({ id: Type.Integer(), tags: Type.Array(Type.Object({ k: Type.String() })) }) } }, () => ({ id: 1, password: 'x', tags: [{ k: 'a', internal: true }] }));
  app.get('/wrong-shape', { response: { 200: Type.Object({ id: Type.Integer() }) } }, () => ({ id: 'not a number' }) as never);
  app.get('/count', { response: { 200: { description: 'Numbers, one per line.', contentType: 'text/plain' } } }, (ctx) =>
    ctx.stream(200, (async function* () {
      for (let i = 1; i <= 3; i++) yield `${i}\n`;
    })(), { 'content-type': 'text/plain; charset=utf-8' }));
  app.get('/gone', { response: { 200: Type.Object({}), 410: ProblemSchema } }, (ctx) => ctx.reply(410, problem(410, 'GONE', 'It left.')));
  app.get('/teapot', {}, () => {
    throw new HttpError(418, 'TEAPOT', 'I am a teapot.');
  });
  app.get('/boom', {}, () => {
    throw new Error('secret internals at /srv/app.ts:12');
  });
  app.get('/async-boom', {}, async () => {
    throw new TypeError('nope');
  });
  client = await testClient(app);
});
after(() => client.close());

describe('coercion and defaults', () => {
  test('path, query and header strings become the schema types; defaults are applied', async () => {
    const res = await client.get('/coerce/42?ratio=0.5&flag=true&color=green&tag=a&tag=b&ids=1&ids=2', { headers: { 'x-count': '3' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {
      params: { id: 42 },
      query: { limit: 10, ratio: 0.5, flag: true, color: 'green', tag: ['a', 'b'], ids: [1, 2] },
      headers: { 'x-count': 3 },
    });
  });

  test('a single value for an array parameter is a one-element array; a repeated scalar keeps the last', async () => {
    const res = await client.get('/coerce/1?tag=solo&limit=5&limit=7');
    assert.deepEqual(res.json().query.tag, ['solo']);
    assert.equal(res.json().query.limit, 7);
  });

  test('a value that does not fit is a 422 pointing at the field', async () => {
    const res = await client.get('/coerce/1?limit=abc&color=blue&flag=maybe');
    assert.equal(res.status, 422);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = res.json();
    assert.equal(body.code, 'VALIDATION_FAILED');
    const locs = body.errors.map((e: { loc: unknown[] }) => e.loc.join('.'));
    assert.ok(locs.includes('query.limit'));
    assert.ok(locs.includes('query.color'));
    assert.ok(locs.includes('query.flag'));
    for (const e of body.errors) assert.equal(typeof e.msg, 'string');
  });

  test('bad path and header values are 422s with their source in loc', async () => {
    assert.deepEqual((await client.get('/coerce/x')).json().errors[0].loc, ['path', 'id']);
    assert.deepEqual((await client.get('/coerce/1', { headers: { 'x-count': 'many' } })).json().errors[0].loc, ['header', 'x-count']);
    assert.deepEqual((await client.get('/coerce/1?limit=0')).json().errors[0], { loc: ['query', 'limit'], msg: 'Expected integer to be greater or equal to 1', type: 'integer_minimum' });
  });
});

describe('error messages', () => {
  test('a missing field is reported once for its loc', async () => {
    const res = await client.post('/things', { nested: {} });
    assert.equal(res.status, 422);
    assert.deepEqual(res.json().errors, [
      { loc: ['body', 'name'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'nested', 'n'], msg: 'Field required', type: 'missing' },
    ]);
  });

  test('a value outside an enum is told the allowed values', async () => {
    const res = await client.get('/coerce/1?color=blue');
    assert.deepEqual(res.json().errors, [{ loc: ['query', 'color'], msg: 'Expected one of: "red", "green"', type: 'union' }]);
  });

  test('configuration: an unknown NODE_ENV is refused, and enum variables list their values', () => {
    assert.throws(() => loadConfig({ NODE_ENV: 'prod' }), (err: unknown) => err instanceof ConfigError && err.code === 'SKIFF_CONFIG_INVALID' && err.detail === 'NODE_ENV: Expected one of: "development", "production", "test"');
    assert.throws(() => loadConfig({ LOG_LEVEL: 'verbose', CACHE_STORE: 'disk' }), (err: unknown) =>
      err instanceof ConfigError && /^SKIFF_CONFIG_INVALID: LOG_LEVEL: Expected one of: "debug", "info", .*"silent"; CACHE_STORE: Expected one of: "redis", "memory"/.test(err.message));
    for (const env of ['development', 'production', 'test'] as const) assert.equal(loadConfig({ NODE_ENV: env }).env, env);
    assert.equal(loadConfig({}).env, 'development');
  });
});

describe('JSON bodies', () => {
  test('a valid body gets its defaults, and the answer is filtered to the response schema', async () => {
    const res = await client.post('/things', { name: 'box' });
    assert.equal(res.status, 201);
    assert.deepEqual(res.json(), { name: 'box', size: 1 });
  });

  test('a missing body is a 422 at ["body"]', async () => {
    const res = await client.request('POST', '/things');
    assert.equal(res.status, 422);
    assert.deepEqual(res.json().errors, [{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
  });

  test('a schema failure in the body points at the nested field', async () => {
    const res = await client.post('/things', { name: '', nested: { n: 'x' } });
    assert.equal(res.status, 422);
    const locs = res.json().errors.map((e: { loc: unknown[] }) => e.loc.join('.'));
    assert.ok(locs.includes('body.name'));
    assert.ok(locs.includes('body.nested.n'));
  });

  test('a wrong media type is a 415', async () => {
    const res = await client.post('/things', 'name=box', { headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 415);
    assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('application/json with a charset and +json types are accepted', async () => {
    assert.equal((await client.post('/things', '{"name":"a"}', { headers: { 'content-type': 'application/json; charset=utf-8' } })).status, 201);
    assert.equal((await client.post('/things', '{"name":"a"}', { headers: { 'content-type': 'application/merge-patch+json' } })).status, 201);
  });

  test('malformed JSON is a 400', async () => {
    const res = await client.post('/things', '{"name": ', { headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.equal(res.json().code, 'MALFORMED_JSON');
  });

  test('__proto__ and constructor.prototype keys are a 400 and pollute nothing', async () => {
    for (const body of ['{"name":"a","__proto__":{"polluted":1}}', '{"name":"a","nested":{"constructor":{"prototype":{"polluted":1}}}}', '[{"__proto__":{"polluted":1}}]']) {
      const res = await client.post('/things', body, { headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, body);
      assert.equal(res.json().code, 'PROTOTYPE_POISONING');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // A key merely named "constructor" holding a plain value is fine.
    assert.equal((await client.post('/things', '{"name":"a","constructor":"x"}', { headers: { 'content-type': 'application/json' } })).status, 201);
  });

  test('forbidden keys are found after parsing, whatever their escape spelling', async () => {
    const bodies = [
      '{"\\u005f_proto__":{"polluted":1}}',
      '{"__pro\\u0074o__":{"polluted":1}}',
      '{"a":[{"b":{"constr\\u0075ctor":{"prototype":{"polluted":1}}}}]}',
      '{"\\u0063\\u006f\\u006e\\u0073\\u0074\\u0072\\u0075\\u0063\\u0074\\u006f\\u0072":{"prototype":{}}}',
    ];
    for (const body of bodies) {
      const res = await client.post('/any', body, { headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, body);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.json().code, 'PROTOTYPE_POISONING', body);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const escaped = await client.post('/any', '{"n\\u0061me":"a"}', { headers: { 'content-type': 'application/json' } });
    assert.deepEqual([escaped.status, escaped.json()], [200, { keys: ['name'] }], 'an escape in an ordinary key is fine');
  });

  test('deep nesting is a 400 problem, with or without a forbidden key (no stack overflow, no 500)', async () => {
    const deep = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);
    for (const body of [deep(8000), `{"a":${deep(8000)},"z":{"constructor":1}}`, `{"a":${deep(8000, '{"constructor":{"prototype":{}}}')}}`]) {
      const res = await client.post('/any', body, { headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(res.json().code, 'JSON_TOO_DEEP');
    }
    // The app default is 64 levels, the outermost counted as one.
    assert.equal((await client.post('/any', `{"a":${deep(63)}}`, { headers: { 'content-type': 'application/json' } })).status, 200);
    assert.equal((await client.post('/any', `{"a":${deep(64)}}`, { headers: { 'content-type': 'application/json' } })).status, 400);
  });

  test('a route can lower its nesting depth', async () => {
    const post = (body: string) => client.post('/shallow', body, { headers: { 'content-type': 'application/json' } });
    assert.equal((await post('{"a":{"b":[1]}}')).status, 200);
    const res = await post('{"a":{"b":[[1]]}}');
    assert.equal(res.status, 400);
    assert.equal(res.json().detail, 'The request body nests deeper than 3 levels.');
  });

  test('a charset other than UTF-8 is a 415; bytes that are not UTF-8 are a 400', async () => {
    for (const type of ['application/json; charset=iso-8859-1', 'application/json;charset=utf-16', 'application/json; charset=""']) {
      const res = await client.post('/things', '{"name":"a"}', { headers: { 'content-type': type } });
      assert.equal(res.status, 415, type);
      assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    }
    for (const type of ['application/json; charset=UTF-8', 'application/json; charset="utf-8"', 'application/json;charset=utf8']) {
      assert.equal((await client.post('/things', '{"name":"a"}', { headers: { 'content-type': type } })).status, 201, type);
    }
    const latin1 = Buffer.from('{"name":"caf\xe9"}', 'latin1');
    const res = await fetch(client.url + '/things', { method: 'POST', headers: { 'content-type': 'application/json' }, body: latin1 });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await res.json()) as { detail: string }).detail, 'The request body is not valid UTF-8.');
  });

  test('a body over the limit by Content-Length is a 413 before it is read', async () => {
    const res = await client.post('/things', { name: 'x'.repeat(2000) });
    assert.equal(res.status, 413);
    assert.equal(res.json().code, 'BODY_TOO_LARGE');
    assert.equal(res.headers.get('connection'), 'close');
  });

  test('a chunked body that grows past the limit is a 413 while streaming', async () => {
    const url = new URL(client.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: '/things', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"name":"');
      const chunk = 'y'.repeat(256);
      let sent = 0;
      const pump = () => {
        if (req.destroyed || sent > 64) return req.end();
        sent++;
        req.write(chunk, () => setImmediate(pump));
      };
      pump();
    });
    assert.equal(status, 413);
  });

  test('a route can raise its own body limit', async () => {
    const res = await client.post('/big', { data: 'z'.repeat(3000) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { length: 3000 });
  });
});

describe('responses and errors', () => {
  test('properties outside the response schema never leave the server, at any depth', async () => {
    const res = await client.get('/leaky');
    assert.equal(res.text, '{"id":1,"tags":[{"k":"a"}]}');
    assert.equal(res.headers.get('content-length'), String(res.text.length));
  });

  test('a streamed body is sent as it comes, without Content-Length', async () => {
    const res = await client.get('/count');
    assert.equal(res.status, 200);
    assert.equal(res.text, '1\n2\n3\n');
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
  });

  test('a response that breaks its schema is a 500, logged loudly', async () => {
    lines.length = 0;
    const res = await client.get('/wrong-shape');
    assert.equal(res.status, 500);
    assert.equal(res.json().code, 'INTERNAL');
    assert.ok(lines.some((l) => l.includes('response does not match its schema') && l.includes('/wrong-shape')));
  });

  test('a declared problem schema answered with ctx.reply is sent as application/problem+json', async () => {
    const res = await client.get('/gone');
    assert.equal(res.status, 410);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.json().code, 'GONE');
  });

  test('a thrown HttpError becomes its problem+json', async () => {
    const res = await client.get('/teapot');
    assert.equal(res.status, 418);
    assert.deepEqual(res.json(), { type: 'about:blank', title: "I'm a Teapot", status: 418, detail: 'I am a teapot.', code: 'TEAPOT' });
  });

  test('any other error is a 500 without internals, logged with the request id', async () => {
    lines.length = 0;
    for (const path of ['/boom', '/async-boom']) {
      const res = await client.get(path, { headers: { 'x-request-id': 'trace-' + path.slice(1) } });
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('x-request-id'), 'trace-' + path.slice(1));
      assert.doesNotMatch(res.text, /secret|srv|stack|nope/);
      assert.equal(res.json().detail, 'The server failed to handle this request.');
    }
    assert.ok(lines.some((l) => l.includes('"request_id":"trace-boom"') && l.includes('secret internals')));
  });
});
