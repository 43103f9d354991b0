// Fifty concurrent requests for a cold key, spread over two app processes on one Redis, run the slow
// handler exactly once: coalesced in each process, then one fill lock across both.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { createClient } from 'redis';
import { startTestRedis, type TestRedis } from './support/redis.ts';

let server: TestRedis;
const children: ChildProcess[] = [];

function startChild(url: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cache-child.ts'], {
    env: { ...process.env, REDIS_URL: url }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`app process exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
}

before(async () => {
  server = await startTestRedis();
});
after(async () => {
  for (const child of children) child.kill('SIGTERM');
  await server.stop();
});

test('50 concurrent misses over two processes run the handler once and all get the same response', async () => {
  const ports = await Promise.all([startChild(server.url), startChild(server.url)]);
  const responses = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/slow`);
    return { status: res.status, body: await res.text(), xCache: res.headers.get('x-cache'), etag: res.headers.get('etag') };
  }));
  const redis = createClient({ url: server.url });
  await redis.connect();
  try {
    assert.equal(await redis.get('slow-runs'), '1', 'the handler ran once across both processes');
  } finally {
    await redis.close();
  }
  assert.ok(responses.every((r) => r.status === 200 && r.body === responses[0].body && r.etag === responses[0].etag));
  assert.equal(JSON.parse(responses[0].body).n, 1);
  assert.equal(responses.filter((r) => r.xCache === 'MISS').length, 1);
});
