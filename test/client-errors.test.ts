// Requests Node rejects before any route sees them (its parser, its timeouts, CONNECT), over raw sockets: each is
// answered as problem+json with Content-Length and Connection: close, the socket is closed, and /metrics counts it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createServer, type SkiffServer } from '../src/http/index.ts';
import { createLogger } from '../src/log.ts';
import { countRejected, Registry } from '../src/metrics/index.ts';
import { createApp, createRouter } from '../src/router/index.ts';

let server: SkiffServer;
let port: number;
const registry = new Registry();

before(async () => {
  const log = createLogger('silent');
  const app = createApp({ log });
  app.include(createRouter().get('/hello', { response: { 200: Type.Object({ ok: Type.Boolean() }) } }, () => ({ ok: true })));
  server = createServer(app, { headersTimeoutMs: 500, requestTimeoutMs: 500, keepAliveTimeoutMs: 5_000, drainTimeoutMs: 1_000, cors: { origins: [], methods: [], headers: [] } }, log);
  countRejected(registry, server);
  port = ((await server.listen({ host: '127.0.0.1', port: 0 })) as net.AddressInfo).port;
});
after(() => server.drain());

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `bytes` and reads until the server closes the socket (which it must, within 5 s). */
function raw(bytes: string | Buffer): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after 5 s; got ${JSON.stringify(text)}`));
    }, 5_000);
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswers(text));
    });
  });
}

function parseAnswers(text: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  while (text !== '') {
    const end = text.indexOf('\r\n\r\n');
    assert.ok(end > 0, `no complete head in ${JSON.stringify(text)}`);
    const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    assert.ok(Number.isInteger(length), `Content-Length in ${statusLine}`);
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) });
    text = text.slice(end + 4 + length);
  }
  return answers;
}

function assertProblem(answer: RawAnswer, status: number, code: string): void {
  assert.equal(answer.status, status);
  assert.equal(answer.headers['content-type'], 'application/problem+json');
  assert.equal(answer.headers.connection, 'close');
  const problem = JSON.parse(answer.body);
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
  assert.equal(typeof problem.detail, 'string');
}

const expected = new Map<string, number>();
function rejected(status: number): void {
  expected.set(String(status), (expected.get(String(status)) ?? 0) + 1);
}

const CASES: [string, string | Buffer, number, string][] = [
  ['an unknown method', 'FROB /hello HTTP/1.1\r\nHost: x\r\n\r\n', 501, 'METHOD_NOT_IMPLEMENTED'],
  ['a bad request line', 'GET /hello HTTP/1.1 extra\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
  ['a bad HTTP version', 'GET /hello HTTP/7.3\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
  ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), 400, 'BAD_REQUEST'],
  ['Content-Length with Transfer-Encoding (smuggling)', 'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
  ['two different Content-Length headers', 'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400, 'BAD_REQUEST'],
  ['a header past the size limit', `GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 501, 'METHOD_NOT_IMPLEMENTED'],
];

for (const [what, bytes, status, code] of CASES) {
  test(`${what} → ${status} problem+json, then the socket is closed`, async () => {
    const answers = await raw(bytes);
    assert.equal(answers.length, 1);
    assertProblem(answers[0], status, code);
    rejected(status);
  });
}

test('headers not finished within HEADERS_TIMEOUT_MS → 408 problem+json', async () => {
  const answers = await raw('GET /hello HTTP/1.1\r\nHost: x\r\n');
  assert.equal(answers.length, 1);
  assertProblem(answers[0], 408, 'REQUEST_TIMEOUT');
  rejected(408);
});

test('garbage after a good request on the same connection: the good one is answered, then a 400', async () => {
  const answers = await raw('GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1 junk\r\n\r\n');
  assert.equal(answers.length, 2);
  assert.equal(answers[0].status, 200);
  assert.deepEqual(JSON.parse(answers[0].body), { ok: true });
  assertProblem(answers[1], 400, 'BAD_REQUEST');
  rejected(400);
});

test('the server still answers, and every rejection was counted by status', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/hello`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const [family] = (await registry.snapshot()).filter((f) => f.name === 'skiff_http_rejected_total');
  const counted = new Map(family.samples.map((s) => [s.labels.status, s.value]));
  assert.deepEqual(counted, expected);
});
