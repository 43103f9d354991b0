// The real entry point in cluster mode (two HTTP workers): /metrics, on its own listener and not on the API's,
// sums every worker's counters and parses as Prometheus text, and a rolling reload under keep-alive load fails no
// request.
import assert from 'node:assert/strict';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freePort } from '../src/redis/index.ts';
import { eventually, getJson, keepAliveLoad, startPrimary, type RunningPrimary } from './support/cluster.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));
let redis: TestRedis;
let primary: RunningPrimary;
let base: string;
let metricsBase: string;

before(async () => {
  redis = await startTestRedis();
  const port = await freePort();
  const metricsPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  metricsBase = `http://127.0.0.1:${metricsPort}`;
  primary = startPrimary({ script: SERVER, env: { REDIS_URL: redis.url, PORT: String(port), METRICS_PORT: String(metricsPort), WEB_CONCURRENCY: '2', NODE_ENV: 'test', GRACEFUL_TIMEOUT: '10' } });
  await primary.waitFor((l) => l.msg === 'all workers ready', 90_000);
});
after(async () => {
  await primary.kill();
  await redis.stop();
});

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      assert.match(line, /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return samples;
}

test('/metrics parses as Prometheus text and counts requests served by every worker', async () => {
  const tags = new Set<string>();
  const n = 20;
  // A new connection per request: round-robin spreads them over both workers.
  for (let i = 0; i < n; i++) tags.add(String((await getJson(`${base}/healthz`)).headers['x-request-id']).split('-')[0]);
  assert.ok(tags.size >= 2, 'both workers answered');
  const res = await getJson(`${metricsBase}/metrics`);
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheus(res.body);
  assert.equal(samples.get('skiff_http_requests_total{method="GET",route="/healthz",status="200"}'), n);
  const pids = [...samples.keys()].filter((k) => k.startsWith('process_resident_memory_bytes{'));
  assert.equal(pids.length, 2, 'memory of each worker');
  assert.ok(samples.has('skiff_http_request_duration_seconds_count{method="GET",route="/healthz"}'));
});

test('/metrics is not served on the API port', async () => {
  const res = await getJson(`${base}/metrics`);
  assert.equal(res.status, 404);
  assert.equal(res.body.code, 'NOT_FOUND');
});

test('405 and OPTIONS answers are counted under their route template, and requests rejected before routing by status', async () => {
  assert.equal((await getJson(`${base}/healthz`, undefined, 'DELETE')).status, 405);
  assert.equal((await getJson(`${base}/healthz`, undefined, 'OPTIONS')).status, 204);
  await new Promise<void>((resolve) => {
    const socket = net.connect(Number(new URL(base).port), '127.0.0.1', () => socket.end('GET / HTTP/1.1 junk\r\n\r\n'));
    socket.on('data', () => {}).on('error', () => {}).on('close', () => resolve());
  });
  const samples = parsePrometheus((await getJson(`${metricsBase}/metrics`)).body);
  assert.equal(samples.get('skiff_http_requests_total{method="DELETE",route="/healthz",status="405"}'), 1);
  assert.equal(samples.get('skiff_http_requests_total{method="OPTIONS",route="/healthz",status="204"}'), 1);
  assert.equal([...samples.keys()].filter((k) => /method="(DELETE|OPTIONS)",route="unmatched"/.test(k)).length, 0);
  assert.equal(samples.get('skiff_http_rejected_total{status="400"}'), 1);
});

test('SIGHUP replaces both workers of the real server under keep-alive load without a failed request', async () => {
  const before = primary.livePids();
  const load = keepAliveLoad(`${base}/healthz`, 8);
  await eventually(() => load.result.ok > 100, 30_000, 'load to run');
  primary.signal('SIGHUP');
  await primary.waitFor((l) => l.msg === 'reload complete', 120_000);
  await eventually(() => [...before].every((pid) => primary.lines.some((l) => l.msg === 'worker exited' && l.pid === pid)), 30_000, 'old workers to exit');
  const okAtExit = load.result.ok;
  await eventually(() => load.result.ok > okAtExit + 100, 30_000, 'load after reload');
  const result = await load.stop();
  assert.equal(result.failed, 0, result.errors.slice(0, 3).join('; '));
  const after = primary.livePids();
  assert.equal(after.size, 2);
  for (const pid of before) assert.ok(!after.has(pid), `worker ${pid} was replaced`);
});
