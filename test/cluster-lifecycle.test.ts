// Supervisor behaviours that need a primary of their own: socket activation, crash loops, MAX_REQUESTS.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { freePort } from '../src/redis/index.ts';
import { getJson, keepAliveLoad, startPrimary, eventually } from './support/cluster.ts';

test('workers accept on a listening socket passed as fd 3 (LISTEN_FDS)', async (t) => {
  const socket = net.createServer();
  await new Promise<void>((resolve) => socket.listen(0, '127.0.0.1', resolve));
  const { port } = socket.address() as net.AddressInfo;
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  const unusedPort = await freePort();
  const primary = startPrimary({
    env: { PORT: String(unusedPort), WEB_CONCURRENCY: '2' },
    extraFds: [fd],
    shellPrefix: 'LISTEN_FDS=1 LISTEN_PID=$$',
  });
  t.after(() => primary.kill());
  // From now on only the primary holds the socket.
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  await primary.waitFor((l) => l.msg === 'all workers ready');
  const pids = new Set<number>();
  for (let i = 0; i < 6; i++) pids.add((await getJson(`http://127.0.0.1:${port}/`)).body.pid);
  for (const pid of pids) assert.ok(primary.livePids().has(pid));
  await assert.rejects(getJson(`http://127.0.0.1:${unusedPort}/`), { code: 'ECONNREFUSED' });
  primary.signal('SIGTERM');
  assert.equal(await primary.exit, 0);
});

test('a crash loop stops the supervisor with a non-zero exit code', async (t) => {
  // Every worker dies at start (a taken port no longer does: that stops the supervisor at once, see startup-errors).
  const primary = startPrimary({ env: { PORT: String(await freePort()), WEB_CONCURRENCY: '1', TEST_CRASH_LIMIT: '3', TEST_CRASH_AT_START: '1' }, quietStderr: true });
  t.after(() => primary.kill());
  await primary.waitFor((l) => l.msg === 'crash loop: workers keep dying, stopping', 30_000);
  assert.equal(await primary.exit, 1);
});

test('MAX_REQUESTS recycles a worker without failing a request', async (t) => {
  const port = await freePort();
  const primary = startPrimary({ env: { PORT: String(port), WEB_CONCURRENCY: '1', MAX_REQUESTS: '40', MAX_REQUESTS_JITTER: '10' } });
  t.after(() => primary.kill());
  await primary.waitFor((l) => l.msg === 'all workers ready');
  const [first] = primary.livePids();
  const load = keepAliveLoad(`http://127.0.0.1:${port}/`, 4);
  await primary.waitFor((l) => l.msg === 'worker exited' && l.pid === first);
  await eventually(() => load.result.pids.size >= 2, 60_000, 'a request served by the new worker');
  const result = await load.stop();
  assert.equal(result.failed, 0, result.errors.slice(0, 3).join('; '));
  assert.ok(primary.lines.some((l) => l.msg === 'worker reached MAX_REQUESTS, replacing it' && l.pid === first));
  primary.signal('SIGTERM');
  assert.equal(await primary.exit, 0);
});
