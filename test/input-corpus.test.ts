// A seeded bad-input corpus against the API as src/server.ts runs it: every operation the served /openapi.json
// lists, its parameters, headers and body derived from the document and then mutated (wrong types, huge
// strings, deep nesting, bad UTF-8, escapes, duplicate keys, bad percent-encoding, odd methods, HEAD, OPTIONS),
// plus raw-socket garbage. No answer may be a 5xx, every 4xx is problem+json, no request hangs, the server
// answers /healthz afterwards and its heap after a forced GC is within 5 MB of where it began.
// CORPUS_SEED=n reproduces a run; CORPUS_SIZE=n changes its length.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LIVE_API_KEY, startLiveApi, type LiveApi } from './support/live-api.ts';

type Json = Record<string, any>;

const SEED = Number(process.env.CORPUS_SEED ?? 0x5eed1);
const SIZE = Number(process.env.CORPUS_SIZE ?? 1100);
const REQUEST_BOUND_MS = 10_000;
const CONCURRENCY = 8;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let api: LiveApi;
let document: Json;
let rnd = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
const chance = (p: number): boolean => rnd() < p;
const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

// gc() for this test only: the flag must be set before the first call, and a fresh context picks it up.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

before(async () => {
  // Input is the subject here, not Redis trouble: a generous Redis bound keeps a loaded machine from answering 503.
  api = await startLiveApi({ REDIS_COMMAND_TIMEOUT_MS: '15000', BODY_LIMIT_BYTES: '65536' });
  document = (await send({ method: 'GET', path: '/openapi.json', headers: {} })).json();
});
after(() => api?.stop());

// ---- requests over node:http (any method token, raw paths and bytes) ----

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
after(() => agent.destroy());

function send(request: Request): Promise<Answer> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent }, (res) => {
      // An event stream stays open by design: its headers are the answer.
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        clearTimeout(timer);
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, text: '', json: () => null });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${REQUEST_BOUND_MS} ms`));
    }, REQUEST_BOUND_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(request.body);
  });
}

// ---- values from the document's schemas ----

function resolve(schema: Json): Json {
  let s = schema;
  while (typeof s.$ref === 'string') s = document.components.schemas[s.$ref.split('/').pop()!];
  return s;
}

/** A value the schema accepts (as far as a generator without a regex engine can tell). */
function valid(schema: Json, depth = 0): unknown {
  const s = resolve(schema);
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum)) return pick(s.enum);
  if (Array.isArray(s.examples) && s.examples.length > 0 && chance(0.5)) return pick(s.examples);
  const arms = s.anyOf ?? s.oneOf;
  if (Array.isArray(arms)) return valid(pick(arms), depth);
  if (Array.isArray(s.allOf)) return Object.assign({}, ...s.allOf.map((m: Json) => valid(m, depth)));
  const type = Array.isArray(s.type) ? pick(s.type) : s.type;
  switch (type) {
    case 'string':
      return validString(s);
    case 'integer':
      return int(s.minimum ?? 0, Math.min(s.maximum ?? 1000, (s.minimum ?? 0) + 1000));
    case 'number':
      return (s.minimum ?? 0) + Math.round(rnd() * 10_000) / 100;
    case 'boolean':
      return chance(0.5);
    case 'null':
      return null;
    case 'array':
      return depth > 4 ? [] : Array.from({ length: int(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)) }, () => valid(s.items ?? {}, depth + 1));
    case 'object': {
      const out: Json = {};
      const required = new Set<string>(s.required ?? []);
      for (const [key, prop] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
        if (required.has(key) || chance(0.5)) out[key] = valid(prop, depth + 1);
      }
      return out;
    }
    default:
      return 'x';
  }
}

/** Strings for patterns of the form ^[class]{n} or ^[class]{n,m}$; otherwise a plain word within the lengths. */
function validString(s: Json): string {
  if (s.format === 'date-time') return new Date(Date.now() + int(0, 1e9)).toISOString();
  const m = typeof s.pattern === 'string' ? /^\^\[([^\]]+)\]\{(\d+)(?:,(\d+))?\}\$$/.exec(s.pattern) : null;
  if (m !== null) {
    const chars = m[1].replace(/(.)-(.)/g, (_, a: string, b: string) => Array.from({ length: b.charCodeAt(0) - a.charCodeAt(0) + 1 }, (_x, i) => String.fromCharCode(a.charCodeAt(0) + i)).join(''));
    return Array.from({ length: int(Number(m[2]), Number(m[3] ?? m[2])) }, () => pick([...chars])).join('');
  }
  const length = int(s.minLength ?? 1, Math.min(s.maxLength ?? 12, (s.minLength ?? 1) + 12));
  return Array.from({ length }, () => pick([...'abcdefghijklmnopqrstuvwxyz'])).join('');
}

// ---- hostile values ----

const deep = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);
const hostileStrings = (): string[] => [
  '', ' ', 'x'.repeat(int(200, 5000)), '\u0000', '\ud800', '../../etc/passwd', '%00', '%', '%zz', '%E0%A4%A', '%C0%AE',
  '<script>alert(1)</script>', "' OR 1=1 --", '${jndi:ldap://x}', '=HYPERLINK("x")', '__proto__', 'constructor', '😀'.repeat(50),
  '-1', '1e309', 'NaN', 'true', 'null', '[]', '{}', '0x10', ' 12 ', '١٢٣',
];
const hostileJson = (): unknown[] => [
  null, true, false, 0, -1, 1e308, -0, 3.5, '', 'x'.repeat(int(100, 3000)), [], {}, [[[]]], { a: { b: { c: {} } } },
  ...hostileStrings().slice(0, 6),
];

/** A path segment as a client could send it on the request line (encoded where node:http requires). */
function hostileSegment(): string {
  return pick([
    'x'.repeat(int(90, 400)), '%zz', '%E0%A4%A', '%', '%2F..%2F', '..', '.', '%00', '%C3%28', encodeURIComponent('😀'), '-1', '0',
    '1'.repeat(16), 'a'.repeat(16), 'A'.repeat(16), '%20', '__proto__', 'constructor', 'null', encodeURIComponent('<x>'), '%25', ';x=1', '*',
  ]);
}

function hostileBody(schema: Json | undefined): { body: string | Buffer; type?: string } {
  const base = schema !== undefined ? (valid(schema) as Json) : {};
  const obj = base !== null && typeof base === 'object' && !Array.isArray(base) ? base : {};
  const keys = Object.keys(obj);
  const someKey = keys.length > 0 ? pick(keys) : 'name';
  const variants: (() => { body: string | Buffer; type?: string })[] = [
    () => ({ body: JSON.stringify({ ...obj, [someKey]: pick(hostileJson()) }) }),
    () => ({ body: JSON.stringify(pick(hostileJson())) }),
    () => ({ body: JSON.stringify({ ...obj, extra: 'field', [`x${int(0, 9)}`]: [1, 2] }) }),
    () => {
      const partial = { ...obj };
      delete partial[someKey];
      return { body: JSON.stringify(partial) };
    },
    () => ({ body: `{"${someKey}":${deep(int(60, 9000))}}` }),
    () => ({ body: `{"a":${deep(8000)},"z":{"constructor":1}}` }),
    () => ({ body: deep(int(65, 3000), '{"constructor":{"prototype":{"x":1}}}') }),
    () => ({ body: pick(['{"\\u005f_proto__":{"x":1}}', '{"constr\\u0075ctor":{"prototype":{}}}', '{"__proto__":null}', '[{"__proto__":{"polluted":true}}]']) }),
    () => ({ body: JSON.stringify(obj).replace(/^\{/, `{"${someKey}":"dup",`) }),
    () => ({ body: JSON.stringify(obj).slice(0, int(0, 20)) }),
    () => ({ body: Buffer.concat([Buffer.from(`{"${someKey}":"`), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xe9]), Buffer.from('"}')]) }),
    () => ({ body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(obj))]) }),
    () => ({ body: `{"${someKey}":"\\ud800\\udc00\\ud800","n":1e999,"m":-0}` }),
    () => ({ body: '{"a":NaN}' }),
    () => ({ body: 'x'.repeat(70_000) }),
    () => ({ body: JSON.stringify({ ...obj, [someKey]: 'y'.repeat(int(1000, 66_000)) }) }),
    () => ({ body: JSON.stringify(obj), type: pick(['text/plain', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json;;;', 'application/jsonx', '', 'application/merge-patch+json', 'APPLICATION/JSON']) }),
    () => ({ body: '' }),
    () => ({ body: ' \n\t ' }),
  ];
  return pick(variants)();
}

// ---- requests per operation ----

interface Operation {
  method: string;
  template: string;
  operation: Json;
}

const knownIds: string[] = [];

function operations(): Operation[] {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([template, item]) =>
    Object.entries(item).map(([method, operation]) => ({ method: method.toUpperCase(), template, operation: operation as Json })));
}

function buildRequest(op: Operation): Request {
  const parameters = (op.operation.parameters ?? []) as Json[];
  const mutate = pick(['valid', 'path', 'query', 'header', 'body', 'method', 'auth', 'mixed'] as const);
  const hostile = (part: string) => mutate === part || (mutate === 'mixed' && chance(0.5));

  let path = op.template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const param = parameters.find((p) => p.in === 'path' && p.name === name);
    if (hostile('path')) return hostileSegment();
    if (knownIds.length > 0 && chance(0.5)) return pick(knownIds);
    return encode(String(valid(param?.schema ?? { type: 'string' })));
  });
  if (hostile('path') && chance(0.3)) path += pick(['/', '//', '/extra', '?', '#frag', '/..', '%2F']);

  const query: string[] = [];
  for (const p of parameters.filter((x) => x.in === 'query')) {
    if (!p.required && !chance(0.5)) continue;
    const value = hostile('query') && chance(0.6) ? pick(hostileStrings()) : String(valid(p.schema));
    query.push(`${p.name}=${hostile('query') && chance(0.3) ? onRequestLine(value) : encode(value)}`);
  }
  if (hostile('query')) {
    const extra = pick([
      () => ['__proto__=1', 'constructor[prototype][x]=1'],
      () => Array.from({ length: int(900, 1500) }, (_, i) => `k${i}=${i}`),
      () => ['limit=1', 'limit=2', 'limit=abc'],
      () => ['=', '&&', '=x', 'a=%zz', 'b=%E0%A4%A', 'c[]=1', 'd[0][1]=2'],
      () => [`tag=${'t'.repeat(int(51, 3000))}`],
      () => ['cursor=' + 'z'.repeat(40), 'limit=-5', 'limit=1e3', 'limit=0x10'],
    ])();
    query.push(...extra);
  }
  if (query.length > 0) path += '?' + query.join('&');

  // Header sizes stay under Node's 16 KiB limit here: past it is a request the parser refuses (raw cases below).
  const headers: Record<string, string> = {};
  const secured = Array.isArray(op.operation.security) && op.operation.security.length > 0;
  if (secured || chance(0.3)) headers['x-api-key'] = hostile('auth') ? pick(['', 'wrong', 'x'.repeat(3000), LIVE_API_KEY + ' ', 'Ä']) : LIVE_API_KEY;
  for (const p of parameters.filter((x) => x.in === 'header')) {
    if (!p.required && !chance(0.5)) continue;
    headers[p.name.toLowerCase()] = hostile('header') ? pick(['', 'x'.repeat(int(100, 4000)), '*', 'W/"x"', '"unterminated', 'a, b, c', '\t']).trim() : String(valid(p.schema));
  }
  if (hostile('header')) {
    Object.assign(headers, pick([
      { 'if-none-match': pick(['*', 'garbage', '"x", W/"y"', '"' + 'e'.repeat(2000) + '"']) },
      { 'cache-control': pick(['no-cache', 'max-age=-1', 'no-store, garbage']) },
      { authorization: pick(['Bearer x', 'Basic !!!', 'x'.repeat(2000)]) },
      { 'accept-encoding': pick(['gzip', 'br;q=1, *;q=0', 'identity;q=0', 'x'.repeat(500)]) },
      { 'x-request-id': pick(['id with spaces', 'x'.repeat(300), '../../', '\t']).trim() || 'x' },
      { origin: pick(['null', 'http://evil.example', 'x'.repeat(300)]) },
      { 'idempotency-key': pick(['', 'k', 'x'.repeat(2000), 'caf\u00e9']) },
      { accept: pick(['text/html', 'application/xml', '*/*;q=0', 'x'.repeat(200)]) },
    ]));
  }

  let method = op.method;
  if (mutate === 'method') method = pick(['HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE', 'POST', 'GET', 'TRACE', 'PROPFIND', 'PURGE', 'LINK', 'SEARCH', 'MKCOL']);

  const schema = op.operation.requestBody?.content?.['application/json']?.schema as Json | undefined;
  let body: string | Buffer | undefined;
  if (schema !== undefined || (mutate === 'body' && chance(0.3))) {
    if (hostile('body')) {
      const hostileOne = hostileBody(schema);
      body = hostileOne.body;
      if (hostileOne.type !== undefined) {
        if (hostileOne.type !== '') headers['content-type'] = hostileOne.type;
      } else headers['content-type'] = 'application/json';
    } else {
      body = JSON.stringify(valid(schema ?? { type: 'object' }));
      headers['content-type'] = 'application/json';
    }
  }
  if (body !== undefined && method !== 'HEAD' && method !== 'GET' && chance(0.1)) {
    // Chunked instead of a length.
    headers['transfer-encoding'] = 'chunked';
  } else if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  if (method === 'HEAD' || (method === 'GET' && !('content-length' in headers) && !('transfer-encoding' in headers))) body = method === 'HEAD' ? undefined : body;
  if (method === 'HEAD') delete headers['content-length'];
  return { method, path, headers, body };
}

/** Percent-encoded as UTF-8; a lone surrogate (it has no UTF-8 form) becomes the bytes WTF-8 gives it. */
const encode = (value: string): string => value.split(/([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/).map((part, i) => {
  if (i % 2 === 0) return encodeURIComponent(part);
  const c = part.charCodeAt(0);
  return `%ED%${(0x80 + ((c >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 + (c & 0x3f)).toString(16).toUpperCase()}`;
}).join('');

/** The value as is where a request line may carry it (bad percent-encoding included), else encoded. */
const onRequestLine = (value: string): string => (/^[\x21-\x7e]*$/.test(value) ? value : encode(value));

function describeRequest(r: Request): string {
  const body = r.body === undefined ? '' : ` body(${Buffer.byteLength(r.body)} B)=${JSON.stringify((Buffer.isBuffer(r.body) ? r.body.toString('latin1') : r.body).slice(0, 160))}`;
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v.length > 60 ? v.slice(0, 60) + `…(${v.length})` : v}`).join('; ');
  return `${r.method} ${r.path.length > 200 ? r.path.slice(0, 200) + `…(${r.path.length})` : r.path} [${headers}]${body}`;
}

/** Every rule an answer must keep; returns what it broke, or null. */
function judge(request: Request, answer: Answer): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status >= 400) {
    const type = answer.headers['content-type'];
    if (type !== 'application/problem+json') return `answered ${answer.status} as ${type ?? 'no content type'}: ${answer.text.slice(0, 200)}`;
    if (request.method !== 'HEAD') {
      const problem = answer.json() as Json;
      if (problem.status !== answer.status || typeof problem.code !== 'string') return `a problem body that does not match its status: ${answer.text.slice(0, 200)}`;
    }
  }
  return null;
}

async function runCorpus(requests: Request[]): Promise<{ failures: string[]; statuses: Map<number, number> }> {
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const index = next++;
      const request = requests[index];
      try {
        const answer = await send(request);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const broken = judge(request, answer);
        if (broken !== null) failures.push(`#${index} ${describeRequest(request)}\n    → ${broken}`);
        const id = answer.status < 300 && answer.text.startsWith('{') ? (answer.json() as Json).id : undefined;
        if (typeof id === 'string' && knownIds.length < 50) knownIds.push(id);
      } catch (err) {
        // A reset after a 413 (the server closes instead of reading the rest) is an answer, not a hang.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ECONNRESET' && code !== 'EPIPE') failures.push(`#${index} ${describeRequest(request)}\n    → ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { failures, statuses };
}

function makeRequests(count: number): Request[] {
  const ops = operations();
  // Every operation gets its share first, then a random one.
  return Array.from({ length: count }, (_, i) => buildRequest(i < ops.length * 10 ? ops[i % ops.length] : pick(ops)));
}

// ---- raw sockets ----

const RAW_GARBAGE: (() => string | Buffer)[] = [
  () => 'GARBAGE\r\n\r\n',
  () => 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  () => 'POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  () => `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => 'GET /healthz\0 HTTP/1.1\r\nHost: x\r\n\r\n',
  () => 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
  () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  () => Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
  () => 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n',
  () => 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
  () => 'FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  () => 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  () => 'POST /v1/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n',
  () => 'POST /v1/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  () => 'GET /healthz HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n',
  () => 'GET /healthz HTTP/1.1\nHost: x\n\n',
  () => 'GET /v1/items/%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  () => Buffer.from(Array.from({ length: 512 }, () => int(0, 255))),
  () => 'GET /healthz HTTP/1.1\r\nHost: x\r\n' + Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`).join('\r\n') + '\r\n\r\n',
  () => 'GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n',
  () => 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  () => 'GET /healthz HTTP/1.0\r\n\r\n',
  () => Buffer.concat([Buffer.from('GET /v1/items?tag='), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]),
];

/** Sends bytes, reads until the server closes or has answered; resolves the status line's code (0: none). */
function raw(bytes: string | Buffer): Promise<{ status: number; head: string; text: string }> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${REQUEST_BOUND_MS} ms`));
    }, REQUEST_BOUND_MS);
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), head, text });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // A complete answer with a length: the connection may stay open (keep-alive), the answer is in.
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(text);
      if (end !== -1 && length !== null && text.length >= end + 4 + Number(length[1])) socket.destroy();
    });
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

// ---- the test ----

test(`bad-input corpus (seed ${SEED}): no 5xx, every 4xx problem+json, no hang, /healthz after, no heap growth`, async (t) => {
  t.diagnostic(`seed ${SEED} (CORPUS_SEED=${SEED} reproduces this run)`);
  // Warm-up with its own requests: routes compile, caches and metric series fill once.
  await runCorpus(makeRequests(100));
  gc();
  const before = process.memoryUsage().heapUsed;

  const requests = makeRequests(SIZE);
  const { failures, statuses } = await runCorpus(requests);
  const rawFailures: string[] = [];
  for (const [i, make] of RAW_GARBAGE.entries()) {
    const bytes = make();
    try {
      const answer = await raw(bytes);
      const sample = JSON.stringify((Buffer.isBuffer(bytes) ? bytes.toString('latin1') : bytes).slice(0, 120));
      // 501 and 505 are the right answers to a method or an HTTP version the server does not implement.
      if (answer.status >= 500 && answer.status !== 501 && answer.status !== 505) rawFailures.push(`raw #${i} ${sample} → ${answer.head}`);
      if (answer.status === 0) rawFailures.push(`raw #${i} ${sample} → closed without an answer`);
      if (answer.status >= 400 && !/\r\ncontent-type: application\/problem\+json/i.test(answer.head)) rawFailures.push(`raw #${i} ${sample} → ${answer.status} without problem+json: ${answer.head.slice(0, 200)}`);
    } catch (err) {
      rawFailures.push(`raw #${i} → ${(err as Error).message}`);
    }
  }
  const health = await send({ method: 'GET', path: '/healthz', headers: {} });
  agent.destroy();
  // Sockets and timers of the run settle before the heap is read again.
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const growth = process.memoryUsage().heapUsed - before;
  t.diagnostic(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.diagnostic(`heap after a forced GC: ${(growth / 1048576).toFixed(2)} MB from before the corpus`);

  assert.deepEqual([...failures, ...rawFailures], [], `seed ${SEED}: these requests broke a rule`);
  assert.ok([...statuses.values()].reduce((a, b) => a + b, 0) >= 1000 || SIZE < 1000, 'at least 1,000 requests were answered');
  assert.equal(health.status, 200, '/healthz after the corpus');
  assert.ok(growth < 5 * 1048576, `the heap grew by ${(growth / 1048576).toFixed(1)} MB`);
});

test('the corpus covers every operation of the served document', () => {
  const ops = operations();
  assert.ok(ops.length >= 10);
  rnd = prng(SEED);
  const seen = new Set(makeRequests(ops.length * 10).map((r) => r.path.split('?')[0]));
  for (const op of ops) {
    const pattern = new RegExp('^' + op.template.replace(/\{[^}]+\}/g, '[^/]*') + '(/.*)?$');
    assert.ok([...seen].some((p) => pattern.test(p)), `${op.method} ${op.template} was requested`);
  }
});
