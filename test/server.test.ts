// The real entry point (src/server.ts) as a child process: headers, logs, CORS, slow clients, graceful stop,
// and configuration errors.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runEntry, startServerProcess, type ServerProcess } from './support/process.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(() => redis.stop());

describe('a running server', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ REDIS_URL: redis.url, API_KEYS: 'k', CORS_ORIGINS: 'https://app.example', HEADERS_TIMEOUT_MS: '1000', WEB_CONCURRENCY: '1' });
  });
  after(() => server?.kill());

  test('API responses carry a request id, nosniff and a restrictive CSP, and no X-Powered-By', async () => {
    const res = await fetch(server.url + '/healthz');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-z]+$/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(res.headers.get('x-powered-by'), null);
  });

  test('a sane X-Request-Id is echoed; an unsafe one is replaced', async () => {
    assert.equal((await fetch(server.url + '/healthz', { headers: { 'x-request-id': 'abc-123' } })).headers.get('x-request-id'), 'abc-123');
    const replaced = (await fetch(server.url + '/healthz', { headers: { 'x-request-id': 'x'.repeat(300) } })).headers.get('x-request-id');
    assert.notEqual(replaced, 'x'.repeat(300));
    // The header's name in any case, as a client sent it; sent twice, neither value is taken.
    const idOf = async (headerLines: string) => {
      const { port } = new URL(server.url);
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${headerLines}Connection: close\r\n\r\n`));
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      return /^x-request-id: (.*)$/im.exec(answer)?.[1].trim();
    };
    assert.equal(await idOf('X-Request-ID: Mixed-Case-1\r\n'), 'Mixed-Case-1');
    const twice = await idOf('X-Request-Id: first\r\nx-request-id: second\r\n');
    assert.match(twice ?? '', /^[0-9a-f]{8}-[0-9a-z]+$/);
  });

  test('one JSON log line per request with method, route, status, duration and request id', async () => {
    await fetch(server.url + '/v1/items/00000000000000000000', { headers: { 'x-request-id': 'log-probe' } });
    let line: string | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = server.lines.find((l) => l.includes('"request_id":"log-probe"'));
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    const entry = JSON.parse(line!);
    assert.equal(entry.msg, 'request');
    assert.equal(entry.method, 'GET');
    assert.equal(entry.route, '/v1/items/{id}');
    assert.equal(entry.status, 404);
    assert.equal(typeof entry.duration_ms, 'number');
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  });

  test('CORS: an allowed origin gets a preflight answer and Vary: Origin; others get no CORS headers', async () => {
    const pre = await fetch(server.url + '/v1/items', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /X-API-Key/);
    assert.match(pre.headers.get('vary') ?? '', /Origin/);
    const simple = await fetch(server.url + '/healthz', { headers: { origin: 'https://app.example' } });
    assert.equal(simple.headers.get('access-control-allow-origin'), 'https://app.example');
    const other = await fetch(server.url + '/healthz', { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.match(other.headers.get('vary') ?? '', /Origin/);
  });

  test('a slowloris client that never finishes its headers is disconnected', async () => {
    const { port } = new URL(server.url);
    const closedByServer = await new Promise<boolean>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      let drips = 0;
      const timer = setInterval(() => {
        // One header line every 200 ms: each keeps the socket busy, none completes the request.
        if (++drips > 100) {
          clearInterval(timer);
          socket.destroy();
          resolve(false);
        } else if (!socket.destroyed) socket.write(`X-Drip-${drips}: 1\r\n`);
      }, 200);
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve(drips <= 100);
      });
    });
    assert.equal(closedByServer, true);
  });
});

describe('graceful stop', () => {
  // A bound and a SIGKILL afterwards: a stop that never comes fails the test instead of holding the whole run.
  test('on SIGTERM an in-flight request completes, new connections are refused, and the exit code is 0', { timeout: 60_000 }, async (t) => {
    const server = await startServerProcess({ REDIS_URL: redis.url, API_KEYS: 'k', WEB_CONCURRENCY: '1' });
    t.after(() => void server.child.kill('SIGKILL'));
    const { port } = new URL(server.url);
    const body = JSON.stringify({ name: 'late', price: 1 });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v1/items', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-api-key': 'k' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      // Half the body now, SIGTERM, then the rest: the request is in flight when the signal arrives.
      req.write(body.slice(0, 10), () => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      });
    });
    const answer = await response;
    assert.equal(answer.status, 201);
    assert.equal(JSON.parse(answer.text).name, 'late');
    assert.equal(await server.exited, 0);
    await assert.rejects(fetch(server.url + '/healthz'));
  });

  test('while draining, /readyz answers 503 on open connections at once, and answers close their connection', { timeout: 60_000 }, async (t) => {
    const server = await startServerProcess({ REDIS_URL: redis.url, API_KEYS: 'k', WEB_CONCURRENCY: '1' });
    t.after(() => void server.child.kill('SIGKILL'));
    const { port } = new URL(server.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) => new Promise<{ status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }));
      }).on('error', reject);
    });
    /** Polls /readyz on the open connection (up to 5 s) until `done` holds for its status. */
    const readyzUntil = async (done: (status: number) => boolean) => {
      let answer = await get('/readyz');
      for (let i = 0; i < 250 && !done(answer.status); i++) {
        await new Promise((r) => setTimeout(r, 20));
        answer = await get('/readyz');
      }
      return answer;
    };
    try {
      // Ready once its Redis connection is up (it listens before that).
      assert.equal((await readyzUntil((status) => status === 200)).status, 200);
      server.child.kill('SIGTERM');
      // Polled on the open connection: the first answer after the drain began is a 503.
      const draining = await readyzUntil((status) => status !== 200);
      assert.equal(draining.status, 503);
      assert.equal(JSON.parse(draining.body).code, 'SHUTTING_DOWN');
      // Past the primary's grace, answers tell keep-alive clients to go (once, not twice).
      await new Promise((r) => setTimeout(r, 400));
      const last = await get('/healthz');
      assert.equal(last.status, 200);
      assert.equal(last.headers.connection, 'close');
      assert.equal(last.rawHeaders.filter((h) => h.toLowerCase() === 'connection').length, 1);
      assert.equal(await server.exited, 0);
    } finally {
      agent.destroy();
    }
  });
});

describe('configuration', () => {
  test('a bad environment value is one clear line on stderr and exit code 2', async () => {
    const run = runEntry('src/server.ts', { PORT: 'eighty', LOG_LEVEL: 'loud' });
    assert.equal(await run.exited, 2);
    const err = run.stderr.join('');
    assert.equal(err.trim().split('\n').length, 1);
    assert.match(err, /^skiff: SKIFF_CONFIG_INVALID: invalid configuration: (.*PORT.*LOG_LEVEL|.*LOG_LEVEL.*PORT)/);
  });
});
