// Start-up problems that used to look like success: a taken port, a Redis that is not there, and signals that
// did not reach the supervisor when it ran under npm.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STARTUP_ERRORS } from '../src/errors.ts';
import { freePort } from '../src/redis/index.ts';
import { startPrimary } from './support/cluster.ts';
import { runEntry } from './support/process.ts';
import { until } from './support/queue.ts';
import { redisCommand, startTestRedis } from './support/redis.ts';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return { port: (holder.address() as net.AddressInfo).port, close: () => new Promise((resolve) => holder.close(() => resolve())) };
}

test('the README lists every start-up error code, and only those, with what to do', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Start-up error codes'), readme.indexOf('Test your routes over a real socket'));
  const rows = [...section.matchAll(/^\| `(SKIFF_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => m[1]);
  assert.deepEqual(rows.sort(), Object.keys(STARTUP_ERRORS).sort());
});

test('a server started on a taken port says so in one line and exits 1 without starting a worker', async (t) => {
  const holder = await holdPort();
  t.after(() => holder.close());
  const run = runEntry('src/server.ts', { PORT: String(holder.port), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  t.after(() => void run.child.kill('SIGKILL'));
  assert.equal(await run.exited, 1);
  assert.deepEqual(run.stderr.join('').split('\n').filter(Boolean), [`skiff: SKIFF_ADDRESS_IN_USE: 127.0.0.1:${holder.port} is in use (another skiff, or another server, listens there): stop it or set PORT`]);
  assert.equal(run.lines.filter((l) => l.includes('"msg":"worker')).length, 0, run.lines.join('\n'));
});

test('a worker that cannot listen stops its supervisor at once (exit 1) instead of being respawned', async (t) => {
  const holder = await holdPort();
  t.after(() => holder.close());
  // The fixture primary does not check the address first: this is the path of a port taken after the check.
  const primary = startPrimary({ env: { PORT: String(holder.port), WEB_CONCURRENCY: '2', TEST_MIN_UPTIME_MS: '0' }, quietStderr: true });
  t.after(() => primary.kill());
  assert.equal(await primary.exit, 1);
  const fatal = primary.lines.filter((l) => l.msg === 'a worker cannot start and a new one would fail the same way; stopping');
  assert.equal(fatal.length, 1);
  assert.match(String(fatal[0].reason), new RegExp(`^SKIFF_ADDRESS_IN_USE: 127\\.0\\.0\\.1:${holder.port} is in use`));
  assert.equal(primary.lines.filter((l) => l.msg === 'worker died' || l.msg === 'worker started').length, 0);
});

test('with Redis unreachable: the outage is logged with backoff, a queue worker waits instead of failing, and SIGINT stops all at once', { timeout: 120_000 }, async (t) => {
  const url = `redis://skiff:hunter2@127.0.0.1:${await freePort()}`;
  const primary = startPrimary({
    script: SERVER,
    args: ['--with-workers'],
    env: { REDIS_URL: url, PORT: '0', WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '20', NODE_ENV: 'test' },
  });
  t.after(() => primary.kill());
  const ready = await primary.waitFor((l) => l.msg === 'all workers ready', 90_000);
  const queueWorker = await primary.waitFor((l) => l.msg === 'worker started, waiting for its backing service');
  assert.equal(queueWorker.group, 'worker');
  assert.deepEqual(ready.waiting, [queueWorker.pid]);
  // A second line for the same client, a while after the first: repeated, but not once per reconnect attempt.
  const repeat = await primary.waitFor((l) => l.msg === 'redis unavailable; retrying with backoff' && Number(l.down_s) >= 1, 30_000);
  const outage = primary.lines.filter((l) => l.msg === 'redis unavailable; retrying with backoff');
  for (const line of outage) {
    assert.equal(line.redis, url.replace('hunter2', '***'));
    assert.match(String(line.err), /ECONNREFUSED/);
    assert.equal(line.stack, undefined);
  }
  const sameClient = outage.filter((l) => l.client === repeat.client);
  assert.ok(sameClient.length < Number(repeat.attempts), `${sameClient.length} lines for ${repeat.attempts} attempts`);

  // Ctrl-C: the terminal signals the whole process group.
  const signalledAt = Date.now();
  process.kill(-primary.child.pid!, 'SIGINT');
  assert.equal(await primary.exit, 0);
  const stoppedIn = Date.now() - signalledAt;
  // Before: the waiting queue worker ignored its stop until GRACEFUL_TIMEOUT (20 s here) and was killed.
  assert.ok(stoppedIn < 10_000, `stopped in ${stoppedIn} ms`);
  const exits = primary.lines.filter((l) => l.msg === 'worker exited');
  assert.equal(exits.length, 2);
  for (const exit of exits) assert.equal(exit.code, 0, JSON.stringify(exit));
});

test('npm run serve runs the supervisor itself: it logs its pid and signals, SIGHUP to it reloads, SIGTERM to npm stops it', { timeout: 180_000 }, async (t) => {
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  const primary = startPrimary({ npmScript: 'serve', env: { REDIS_URL: redis.url, PORT: '0', WEB_CONCURRENCY: '1', NODE_ENV: 'test' } });
  t.after(() => primary.kill());
  const started = await primary.waitFor((l) => l.msg === 'supervisor started', 60_000);
  assert.match(String(started.signals), /TERM.*INT.*graceful.*HUP.*reload.*TTIN.*TTOU/);
  const supervisor = started.pid!;
  // npm's own child: no shell and no tsx process in between to swallow a signal.
  const parent = Number(readFileSync(`/proc/${supervisor}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
  assert.equal(parent, primary.child.pid);
  await primary.waitFor((l) => l.msg === 'all workers ready', 90_000);
  process.kill(supervisor, 'SIGHUP');
  await primary.waitFor((l) => l.msg === 'reload complete', 120_000);
  // npm forwards SIGTERM (and SIGINT) to its child.
  primary.child.kill('SIGTERM');
  assert.equal(await primary.exit, 0);
  assert.ok(primary.lines.some((l) => l.msg === 'stop signal' && l.signal === 'SIGTERM'));
  assert.ok(primary.lines.some((l) => l.msg === 'stopped' && l.code === 0));
  assert.throws(() => process.kill(supervisor, 0), { code: 'ESRCH' });
});

test('queue workers run the start-up eviction check too: a warning, or with REDIS_REQUIRE_NOEVICTION exit 1 with SKIFF_REDIS_EVICTION', { timeout: 120_000 }, async (t) => {
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  await redisCommand(redis.port, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
  const refused = runEntry('src/worker.ts', { REDIS_URL: redis.url, WORKER_CONCURRENCY: '1', REDIS_REQUIRE_NOEVICTION: 'true' });
  t.after(() => void refused.child.kill('SIGKILL'));
  assert.equal(await refused.exited, 1, refused.lines.join('\n'));
  const fatal = refused.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'a worker cannot start and a new one would fail the same way; stopping');
  assert.equal(fatal.length, 1, refused.lines.join('\n'));
  assert.match(String(fatal[0]!.reason), /^SKIFF_REDIS_EVICTION: Redis maxmemory-policy is allkeys-lru/);

  const warned = runEntry('src/worker.ts', { REDIS_URL: redis.url, WORKER_CONCURRENCY: '1' });
  t.after(() => void warned.child.kill('SIGKILL'));
  await until(() => warned.lines.some((l) => l.includes('"msg":"all workers ready"')), 90_000, 'the worker ready');
  assert.ok(warned.lines.some((l) => l.includes('maxmemory-policy is allkeys-lru')), warned.lines.join('\n'));
  warned.child.kill('SIGTERM');
  assert.equal(await warned.exited, 0);
});

test('an API process refused by the eviction check tells its supervisor why: exit 1 with SKIFF_REDIS_EVICTION, not a crash loop', { timeout: 120_000 }, async (t) => {
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  await redisCommand(redis.port, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
  const refused = runEntry('src/server.ts', { REDIS_URL: redis.url, PORT: '0', WEB_CONCURRENCY: '2', REDIS_REQUIRE_NOEVICTION: 'true' });
  t.after(() => void refused.child.kill('SIGKILL'));
  assert.equal(await refused.exited, 1, refused.lines.join('\n'));
  const logged = refused.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const fatal = logged.filter((l) => l.msg === 'a worker cannot start and a new one would fail the same way; stopping');
  assert.equal(fatal.length, 1, refused.lines.join('\n'));
  assert.equal(fatal[0]!.group, 'api');
  assert.match(String(fatal[0]!.reason), /^SKIFF_REDIS_EVICTION: Redis maxmemory-policy is allkeys-lru/);
  assert.equal(logged.filter((l) => l.msg === 'worker died' || l.msg === 'crash loop: workers keep dying, stopping').length, 0, refused.lines.join('\n'));
  assert.equal(logged.filter((l) => l.msg === 'listening').length, 0, refused.lines.join('\n'));
});

test('an API process stopped while its start-up waits on a hung Redis exits 0 and never listens, even once Redis answers again', { timeout: 120_000 }, async (t) => {
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  // In front of Redis: a connection from the API process says it is inside startApi, which waits on the hung Redis.
  const connections: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect(redis.port, '127.0.0.1');
    connections.push(client, upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of connections) socket.destroy();
    proxy.close();
  });
  redis.pause();
  const primary = startPrimary({
    script: SERVER,
    // Start-up would wait twice the command bound before listening; the stop is due well within GRACEFUL_TIMEOUT.
    env: { REDIS_URL: `redis://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, PORT: '0', WEB_CONCURRENCY: '1', REDIS_COMMAND_TIMEOUT_MS: '15000', GRACEFUL_TIMEOUT: '60', NODE_ENV: 'test' },
  });
  t.after(() => primary.kill());
  await until(() => connections.length > 0, 90_000, 'the API process connecting to Redis');
  primary.signal('SIGTERM');
  // Redis answering now would let a start-up that ignored the stop go on to listen. Not before the supervisor has
  // passed the stop on: resumed earlier, start-up could finish before the stop reached the API process at all.
  await until(() => primary.lines.some((l) => l.msg === 'retiring worker'), 30_000, 'the supervisor retiring the API process');
  redis.resume();
  assert.equal(await primary.exit, 0);
  const exited = primary.lines.filter((l) => l.msg === 'worker exited');
  assert.equal(exited.length, 1, JSON.stringify(primary.lines));
  assert.equal(exited[0]!.code, 0, JSON.stringify(exited[0]));
  assert.equal(primary.lines.filter((l) => l.msg === 'listening' || l.msg === 'worker ready' || l.msg === 'worker died').length, 0, JSON.stringify(primary.lines));
});
