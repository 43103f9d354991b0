// One supervised fixture server, exercised in turn: respawn, resize, rolling reload under load, heartbeat,
// gathering across workers, then a graceful stop with a request in flight.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort } from '../src/redis/index.ts';
import { eventually, getJson, keepAliveLoad, sleep, startPrimary, type RunningPrimary } from './support/cluster.ts';

let primary: RunningPrimary;
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  primary = startPrimary({ env: { PORT: String(port), WEB_CONCURRENCY: '2', GRACEFUL_TIMEOUT: '5', WORKER_TIMEOUT: '4', TEST_MIN_UPTIME_MS: '0' } });
  await primary.waitFor((l) => l.msg === 'all workers ready');
});
after(() => primary.kill());

const liveCount = (n: number) => () => primary.livePids().size === n;

test('a killed worker is respawned', async () => {
  const [victim] = primary.livePids();
  process.kill(victim, 'SIGKILL');
  await primary.waitFor((l) => l.msg === 'worker died' && l.pid === victim);
  await eventually(() => primary.livePids().size === 2 && !primary.livePids().has(victim), 60_000, 'a replacement');
  assert.equal((await getJson(`${base}/`)).status, 200);
});

test('SIGTTIN adds a worker and SIGTTOU removes one', async () => {
  primary.signal('SIGTTIN');
  await eventually(liveCount(3), 60_000, 'three workers');
  primary.signal('SIGTTOU');
  await eventually(liveCount(2), 60_000, 'two workers');
});

test('SIGHUP replaces every worker under keep-alive load without a failed request', async () => {
  const before = primary.livePids();
  const load = keepAliveLoad(`${base}/`, 4);
  await eventually(() => load.result.ok > 200, 60_000, 'load to run');
  const reloaded = primary.lines.filter((l) => l.msg === 'reload complete').length;
  primary.signal('SIGHUP');
  await eventually(() => primary.lines.filter((l) => l.msg === 'reload complete').length > reloaded, 60_000, 'reload');
  // Keep the load on while the old workers drain and exit.
  await eventually(() => [...before].every((pid) => primary.lines.some((l) => l.msg === 'worker exited' && l.pid === pid)), 60_000, 'old workers to exit');
  const okAtExit = load.result.ok;
  await eventually(() => load.result.ok > okAtExit + 100, 60_000, 'load after reload');
  const result = await load.stop();
  assert.deepEqual(result.errors.slice(0, 5), []);
  assert.equal(result.failed, 0);
  const after = primary.livePids();
  assert.equal(after.size, 2);
  for (const pid of before) assert.ok(!after.has(pid), `pid ${pid} was replaced`);
  // Requests after the reload are served by the new workers only.
  const served = new Set<number>();
  for (let i = 0; i < 10; i++) served.add((await getJson(`${base}/`)).body.pid);
  for (const pid of served) assert.ok(after.has(pid));
});

test('a worker whose event loop is blocked past WORKER_TIMEOUT is replaced', async () => {
  // The blocking request never gets an answer: its worker is killed while blocked.
  const blocked = getJson(`${base}/block?ms=15000`).catch(() => null);
  const died = await primary.waitFor((l) => l.msg === 'worker timeout: event loop blocked, killing it');
  await primary.waitFor((l) => l.msg === 'worker died' && l.pid === died.pid);
  await blocked;
  await eventually(() => primary.livePids().size === 2 && !primary.livePids().has(died.pid!), 60_000, 'a replacement');
});

test('a worker gathers data from all its siblings', async () => {
  const res = await getJson(`${base}/gather`);
  assert.deepEqual(new Set(res.body.pids), primary.livePids());
});

test('SIGTERM lets an in-flight slow request finish, then the primary exits 0', async () => {
  const slow = getJson(`${base}/slow?ms=1500`);
  await sleep(300);
  primary.signal('SIGTERM');
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(await primary.exit, 0);
});
