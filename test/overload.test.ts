// Overload protection: with the event loop deliberately blocked, requests that arrived meanwhile are refused
// with 503 + Retry-After problem+json before routing, /readyz says 503 and /healthz says overloaded; once the
// pressure passes everything is served again. In-flight and heap thresholds on a small app.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createLogger } from '../src/log.ts';
import { REDUCED_CAPACITY_TYPE, createOverloadGuard, overloadCollector } from '../src/ratelimit/index.ts';
import { createApp } from '../src/router/index.ts';
import { testClient } from '../src/testing/index.ts';
import { startLiveApi, type LiveApi } from './support/live-api.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let api: LiveApi;

before(async () => {
  // The default threshold (1 s): a loaded machine's own stalls stay under it, the deliberate block does not.
  api = await startLiveApi({ OVERLOAD_SAMPLE_INTERVAL_MS: '100' });
});
after(() => api?.stop());

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Connects now; `send` writes the request at once (a connected socket writes synchronously when it can). */
async function rawClient(url: string): Promise<{ send(path: string): Promise<RawAnswer> }> {
  const { hostname, port } = new URL(url);
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.once('error', reject);
  });
  return {
    send(path) {
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      const answered = new Promise<RawAnswer>((resolve) => socket.once('end', () => {
        const text = Buffer.concat(chunks).toString();
        const [head, body] = text.split('\r\n\r\n');
        const [statusLine, ...lines] = head.split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
      }));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      return answered;
    },
  };
}

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) { /* a handler stuck in CPU work */ }
}

test('a blocked event loop: requests that arrived meanwhile get 503 + Retry-After before routing; probes report it', async () => {
  const clients = await Promise.all(Array.from({ length: 5 }, () => rawClient(api.url)));
  const answers = Promise.all([
    clients[0].send('/v1/items'),
    clients[1].send('/v1/items/0000000000000000'),
    clients[2].send('/no/such/route'),
    clients[3].send('/readyz'),
    clients[4].send('/healthz'),
  ]);
  blockEventLoop(2500);
  const [list, item, unrouted, ready, live] = await answers;
  for (const refused of [list, item, unrouted]) {
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    assert.equal(refused.headers['retry-after'], '1');
    const body = JSON.parse(refused.body);
    assert.deepEqual([body.code, body.type], ['OVERLOADED', REDUCED_CAPACITY_TYPE]);
    assert.match(body.detail, /event loop runs late/);
  }
  assert.equal(ready.status, 503);
  assert.equal(JSON.parse(ready.body).code, 'OVERLOADED');
  assert.equal(live.status, 200);
  assert.deepEqual(JSON.parse(live.body), { status: 'overloaded', reason: 'event-loop-delay' });
  // The pressure passes with the next samples: served again.
  let health = (await fetch(api.url + '/healthz').then((r) => r.json())) as { status: string };
  for (let i = 0; i < 250 && health.status !== 'ok'; i++) {
    await sleep(20);
    health = (await fetch(api.url + '/healthz').then((r) => r.json())) as { status: string };
  }
  assert.deepEqual(health, { status: 'ok' });
  assert.equal((await fetch(api.url + '/v1/items')).status, 200);
  assert.equal((await fetch(api.url + '/readyz')).status, 200);
});

test('in flight past the threshold: the next request is refused until one ends; heap past its threshold refuses', async () => {
  const guard = createOverloadGuard({ maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxInFlight: 2, sampleIntervalMs: 100 });
  const releases: (() => void)[] = [];
  const app = createApp({ log: createLogger('silent'), admit: guard.admit });
  app.get('/hold', { response: { 200: Type.Object({ ok: Type.Boolean() }) } }, () => new Promise((resolve) => releases.push(() => resolve({ ok: true }))));
  app.get('/hello', { response: { 200: Type.Object({ ok: Type.Boolean() }) } }, () => ({ ok: true }));
  const client = await testClient(app);
  try {
    const held = [client.get('/hold'), client.get('/hold')];
    while (releases.length < 2) await sleep(5);
    const refused = await client.get('/hello');
    assert.equal(refused.status, 503);
    assert.match(refused.json().detail, /too many requests in flight/);
    assert.equal(guard.status().inFlight, 2);
    releases.shift()!();
    await held[0];
    assert.equal((await client.get('/hello')).status, 200, 'one ended: room again');
    releases.shift()!();
    await held[1];
    const families = await overloadCollector(guard)();
    const rejected = families.find((f) => f.name === 'skiff_overload_rejected_total')!;
    assert.equal(rejected.samples.find((s) => s.labels.reason === 'in-flight')!.value, 1);
  } finally {
    guard.stop();
    await client.close();
  }
  const heavy = createOverloadGuard({ maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1, maxInFlight: 0, sampleIntervalMs: 100 });
  try {
    assert.deepEqual([heavy.status().overloaded, heavy.status().reason], [true, 'heap']);
  } finally {
    heavy.stop();
  }
});
