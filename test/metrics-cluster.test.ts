// The real entry point in cluster mode (two HTTP workers): /metrics sums every worker's counters and parses as
// Prometheus text, and a rolling reload under keep-alive load fails no request.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freePort } from '../src/redis/index.ts';
import { eventually, getJson, keepAliveLoad, startPrimary, type RunningPrimary } from './support/cluster.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));
let redis: TestRedis;
let primary: RunningPrimary;
let base: string;

before(async () => {
  redis = await startTestRedis();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  primary = startPrimary({ script: SERVER, env: { REDIS_URL: redis.url, PORT: String(port), WEB_CONCURRENCY: '2', NODE_ENV: 'test', GRACEFUL_TIMEOUT: '10' } });
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
  const res = await getJson(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheus(res.body);
  assert.equal(samples.get('skiff_http_requests_total{method="GET",route="/healthz",status="200"}'), n);
  const pids = [...samples.keys()].filter((k) => k.startsWith('process_resident_memory_bytes{'));
  assert.equal(pids.length, 2, 'memory of each worker');
  assert.ok(samples.has('skiff_http_request_duration_seconds_count{method="GET",route="/healthz"}'));
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
