import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, redisFailure, withTimeout, type Redis } from '../src/redis/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
let client: Redis;
const log = createLogger('silent');

before(async () => {
  server = await startTestRedis();
  client = createRedis({ url: server.url, commandTimeoutMs: 300, log });
  while (!client.isReady) await new Promise((r) => setTimeout(r, 10));
});
after(async () => {
  await closeRedis(client);
  await server.stop();
});

test('a command to a stopped (SIGSTOP) Redis rejects within the command timeout', async () => {
  server.pause();
  try {
    const started = Date.now();
    await assert.rejects(withTimeout(client.get('k'), 300), { name: 'RedisTimeoutError' });
    assert.ok(Date.now() - started < 3000, 'rejected instead of hanging');
  } finally {
    server.resume();
  }
  // The client is usable again once Redis resumes.
  for (let i = 0; i < 100 && !(await pingRedis(client, 300)); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await pingRedis(client, 300), true);
});

test('a reply that arrived while the event loop was blocked past the bound is a success, not a timeout', async () => {
  // A loaded machine stalls the loop; the timer and the reply are then both due in the same turn. Answering the
  // timeout would turn an applied write into a 503 that says otherwise.
  const bounded = withTimeout(client.set('stalled-write', 'v'), 100);
  await new Promise((r) => setImmediate(r)); // the command is on the wire
  const until = Date.now() + 400;
  while (Date.now() < until); // Redis answers while the loop is blocked
  assert.equal(await bounded, 'OK');
});

test('a killed Redis fails commands at once, and the client reconnects when it is back', async () => {
  await server.kill();
  await assert.rejects(client.set('k', 'v'));
  assert.equal(await pingRedis(client, 300), false);
  await server.restart();
  for (let i = 0; i < 100 && !(await pingRedis(client, 300)); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await pingRedis(client, 300), true);
  await client.set('k', 'v');
  assert.equal(await client.get('k'), 'v');
});

test('a command a busy server refuses (BUSY, like LOADING after a restart) is unavailable and certainly not applied', async () => {
  // A script that never ends makes Redis refuse other clients' commands once the busy threshold passes.
  await client.sendCommand(['CONFIG', 'SET', 'busy-reply-threshold', '50']);
  const runner = client.duplicate();
  const killer = client.duplicate();
  runner.on('error', () => {});
  await Promise.all([runner.connect(), killer.connect()]);
  const spinning = runner.sendCommand(['EVAL', 'while true do end', '0']).catch((err: unknown) => err);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const refused = await client.set('busy-key', 'v').then(() => null, (err: unknown) => err);
    assert.ok(refused instanceof Error && refused.message.startsWith('BUSY'), `refused with BUSY: ${String(refused)}`);
    assert.equal(redisFailure(refused), 'not-applied');
  } finally {
    await killer.sendCommand(['SCRIPT', 'KILL']);
    await spinning;
    await killer.sendCommand(['CONFIG', 'SET', 'busy-reply-threshold', '5000']);
    runner.destroy();
    killer.destroy();
  }
  assert.equal(await client.get('busy-key'), null, 'the refused write left nothing');
  assert.equal(redisFailure(new Error('ERR wrong number of arguments')), null, 'an ordinary error is not an outage');
});

test('a client created while Redis is down starts, fails fast, and connects once Redis is up', async () => {
  await server.kill();
  const late = createRedis({ url: server.url, commandTimeoutMs: 300, log });
  try {
    assert.equal(await pingRedis(late, 300), false);
    await server.restart();
    for (let i = 0; i < 100 && !(await pingRedis(late, 300)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await pingRedis(late, 300), true);
  } finally {
    await closeRedis(late);
  }
});

test('ensureRedis: a configured URL is used as is; a running Redis is reused; otherwise a private one is started', async () => {
  const { ensureRedis, freePort, redisAnswers } = await import('../src/redis/index.ts');
  const { mkdtempSync, existsSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  assert.equal((await ensureRedis('redis://example:1', 'unused', log)).url, 'redis://example:1');
  if (!(await redisAnswers('127.0.0.1', server.port))) await server.restart();
  assert.equal((await ensureRedis(undefined, 'unused', log, { probePort: server.port })).url, `redis://127.0.0.1:${server.port}`);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-private-redis-'));
  let started: Awaited<ReturnType<typeof ensureRedis>> | undefined;
  try {
    const probePort = await freePort();
    started = await ensureRedis(undefined, dir, log, { probePort });
    const port = Number(new URL(started.url).port);
    assert.notEqual(port, probePort);
    assert.equal(await redisAnswers('127.0.0.1', port), true);
    assert.ok(existsSync(join(dir, 'appendonlydir')), 'the private server keeps an append-only file');
    // A process group of its own: a terminal's Ctrl-C must not stop it while the service drains.
    const info = createRedis({ url: started.url, commandTimeoutMs: 1000, log });
    while (!info.isReady) await new Promise((r) => setTimeout(r, 10));
    const pid = Number(/process_id:(\d+)/.exec(await info.info('server'))?.[1]);
    await closeRedis(info);
    const pgrp = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
    assert.notEqual(pgrp(readFileSync(`/proc/${pid}/stat`, 'utf8')), pgrp(readFileSync('/proc/self/stat', 'utf8')));
    await started.stop();
    assert.equal(await redisAnswers('127.0.0.1', port), false);
    await assert.rejects(ensureRedis(undefined, dir, log, { probePort, bin: 'redis-server-not-installed' }), { code: 'SKIFF_NO_REDIS', message: /^SKIFF_NO_REDIS: .*redis-server is not installed: run `sudo apt-get install -y redis-server` or set REDIS_URL/ });
  } finally {
    await started?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
