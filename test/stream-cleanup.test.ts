// The core's stream contract (ctx.stream): whatever ends an exchange — HEAD, a client reset before the first
// byte or mid-stream, a stream that throws, a normal end, the server's drain — what a streaming handler took is
// released, once. A small app counts acquired and released resources.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { createServer, type SkiffServer } from '../src/http/index.ts';
import { createLogger } from '../src/log.ts';
import { createApp, type RequestContext } from '../src/router/index.ts';
import { until } from './support/queue.ts';
import { request as get, resetWhen } from './support/stream.ts';

const lines: string[] = [];
const log = createLogger('error', {}, (line) => void lines.push(line));
const counts = { acquired: 0, released: 0 };
const TEXT = { 'content-type': 'text/plain; charset=utf-8' };
const Text = { 200: { description: 'Lines.', contentType: 'text/plain' } };
const Ticks = Type.Object({
  /** The handler awaits this long before it takes its resource and starts the stream. */
  delayMs: Type.Integer({ default: 0 }),
  /** Ticks to send before ending; 0: until the client leaves or the server drains. */
  count: Type.Integer({ default: 0 }),
  /** Throw after this many ticks; 0: never. */
  failAfter: Type.Integer({ default: 0 }),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves after `ms`, or at once when the client leaves or the server drains. */
function pause(ctx: RequestContext, ms: number): Promise<void> {
  if (ctx.signal.aborted || ctx.draining.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', done);
      ctx.draining.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    ctx.signal.addEventListener('abort', done);
    ctx.draining.addEventListener('abort', done);
  });
}

async function* ticks(ctx: RequestContext, count: number, failAfter: number): AsyncGenerator<string> {
  for (let i = 1; count === 0 || i <= count; i++) {
    await pause(ctx, 20);
    if (ctx.draining.aborted) {
      yield 'bye\n';
      return;
    }
    if (i === failAfter) throw new Error('the source broke');
    yield `tick ${i}\n`;
  }
}

/** A Readable that counts itself released when destroyed. */
function countedReadable(): Readable {
  counts.acquired++;
  let n = 0;
  return new Readable({
    read() {
      setTimeout(() => this.push(`chunk ${++n}\n`), 20);
    },
    destroy(err, cb) {
      counts.released++;
      cb(err);
    },
  });
}

function buildApp() {
  const app = createApp({ log, bodyLimitBytes: 1024 });
  // Eager: the handler takes its resource before the stream and hands its release to onClose.
  app.get('/eager', { query: Ticks, response: Text }, async (ctx) => {
    if (ctx.query.delayMs > 0) await sleep(ctx.query.delayMs);
    counts.acquired++;
    return ctx.stream(200, ticks(ctx, ctx.query.count, ctx.query.failAfter), TEXT, { onClose: () => void counts.released++ });
  });
  // Lazy: the generator takes its resource when it starts and releases it in its finally.
  app.get('/lazy', { query: Ticks, response: Text }, (ctx) =>
    ctx.stream(200, (async function* () {
      counts.acquired++;
      try {
        yield* ticks(ctx, ctx.query.count, ctx.query.failAfter);
      } finally {
        counts.released++;
      }
    })(), TEXT));
  // A Readable that ignores the drain signal: only the drain timeout ends it.
  app.get('/readable', { response: Text }, (ctx) => ctx.stream(200, countedReadable(), TEXT));
  // A stream for a status whose answer has no body: dropped by the core, released all the same.
  app.get('/dropped', { response: { 200: Text[200], 204: { description: 'Nothing.' } } }, (ctx) => {
    counts.acquired++;
    return ctx.stream(204, ticks(ctx, 1, 0), TEXT, { onClose: () => void counts.released++ });
  });
  return app;
}

async function start(drainTimeoutMs = 10_000): Promise<{ server: SkiffServer; port: number }> {
  const server = createServer(buildApp(), {
    headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, drainTimeoutMs, cors: { origins: [], methods: [], headers: [] },
  }, log);
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as net.AddressInfo;
  return { server, port: address.port };
}

/** Every resource taken so far has been released (waits: release follows the socket's close). */
async function allReleased(acquired: number): Promise<void> {
  await until(() => counts.acquired === acquired && counts.released === acquired, 5_000, `${acquired} acquired and released (now ${JSON.stringify(counts)})`);
}

describe('ctx.stream releases what a stream took, on every path', () => {
  let port: number;
  let server: SkiffServer;
  before(async () => ({ server, port } = await start()));
  after(() => server.drain());
  afterEach(() => {
    assert.equal(counts.acquired, counts.released, 'every test ends with nothing held');
  });

  test('HEAD: the GET status and headers, the body never started, the handler’s resource released', async () => {
    const before = counts.acquired;
    const eager = await get(port, '/eager', 'HEAD');
    assert.equal(eager.status, 200);
    assert.equal(eager.body, '');
    await allReleased(before + 1);
    // A lazy body is never started for HEAD, so it takes nothing at all.
    const lazy = await get(port, '/lazy', 'HEAD');
    assert.equal(lazy.status, 200);
    await sleep(50);
    assert.equal(counts.acquired, before + 1);
    assert.equal((await get(port, '/readable', 'HEAD')).status, 200);
    await allReleased(before + 2);
  });

  test('a client reset before the handler answers, and after the headers but before the first byte', async () => {
    const before = counts.acquired;
    // The handler is still waiting when the connection goes: it takes the resource on a closed exchange.
    await resetWhen(port, '/eager?delayMs=100', (received) => received === '');
    await sleep(150);
    await allReleased(before + 1);
    // The status line is out, the first tick (20 ms later) is not.
    for (const path of ['/eager', '/lazy']) {
      const received = await resetWhen(port, path, (r) => r.includes('\r\n\r\n'));
      assert.match(received, /^HTTP\/1.1 200/);
      assert.doesNotMatch(received, /tick/);
    }
    await allReleased(before + 3);
  });

  test('a client reset mid-stream', async () => {
    const before = counts.acquired;
    for (const path of ['/eager', '/lazy', '/readable']) {
      const received = await resetWhen(port, path, (r) => /(tick|chunk) 2/.test(r));
      assert.match(received, /(tick|chunk) 2/);
    }
    await allReleased(before + 3);
  });

  test('a stream that throws mid-way: logged, connection cut, released', async () => {
    const before = counts.acquired;
    lines.length = 0;
    for (const path of ['/eager?failAfter=3', '/lazy?failAfter=3']) {
      const res = await get(port, path);
      assert.equal(res.status, 200);
      assert.equal(res.ended, false, 'the client sees the stream cut, not a clean end');
      assert.equal(res.body, 'tick 1\ntick 2\n');
    }
    await allReleased(before + 2);
    assert.equal(lines.filter((l) => l.includes('response stream failed')).length, 2);
  });

  test('a normal end; and a stream for a bodiless status, dropped by the core', async () => {
    const before = counts.acquired;
    for (const path of ['/eager?count=3', '/lazy?count=3']) {
      const res = await get(port, path);
      assert.deepEqual([res.status, res.body, res.ended], [200, 'tick 1\ntick 2\ntick 3\n', true]);
    }
    assert.equal((await get(port, '/dropped')).status, 204);
    await allReleased(before + 3);
  });

  test('many HEADs and resets hold nothing afterwards', async () => {
    const before = counts.acquired;
    for (let i = 0; i < 50; i++) {
      await get(port, '/eager', 'HEAD');
      await resetWhen(port, '/eager', (r) => r.includes('\r\n\r\n'));
    }
    await allReleased(before + 100);
  });
});

describe('drain: open streams hear ctx.draining, end, and are released', () => {
  test('a stream that heeds the signal ends with its last word, its connection closes, the drain is prompt', async () => {
    const { server, port } = await start(10_000);
    const before = counts.acquired;
    const agent = new http.Agent({ keepAlive: true });
    try {
      const opened = ['/eager', '/lazy'].map((path) => new Promise<{ ended: Promise<string>; socketClosed: Promise<void> }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
          const socketClosed = new Promise<void>((r) => res.socket.once('close', () => r()));
          let body = '';
          const ended = new Promise<string>((r) => res.on('end', () => r(body)));
          res.on('data', (d) => {
            body += d;
            if (body === 'tick 1\n') resolve({ ended, socketClosed });
          });
        }).on('error', reject);
      }));
      const streams = await Promise.all(opened);
      const started = Date.now();
      await server.drain();
      // Under the 2.3 s at which the drain reaps idle keep-alive sockets (and far under its 10 s timeout): the
      // server closed each connection right after its stream ended (typically in tens of milliseconds).
      assert.ok(Date.now() - started < 2_000, `drained in ${Date.now() - started} ms`);
      for (const { ended } of streams) assert.match(await ended, /^tick 1\n(tick \d+\n)*bye\n$/);
      await Promise.all(streams.map((e) => e.socketClosed));
      await allReleased(before + 2);
    } finally {
      agent.destroy();
      await server.drain();
    }
  });

  test('a stream that ignores the signal is cut at the drain timeout, and released', async () => {
    const { server, port } = await start(300);
    const before = counts.acquired;
    const first = new Promise<void>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/readable', agent: false }, (res) => {
        res.once('data', () => resolve());
        res.on('error', () => {});
      }).on('error', () => {});
    });
    await first;
    await server.drain();
    await allReleased(before + 1);
  });
});
