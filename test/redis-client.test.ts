import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, withTimeout, type Redis } from '../src/redis/index.ts';
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
