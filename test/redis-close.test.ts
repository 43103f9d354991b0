// Stops that a hung (SIGSTOPped) Redis cannot hold: closeRedis, a queue worker's stop(), and the API's stop().
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, startWorker, STOP_SLACK_MS } from '../src/queue/index.ts';
import { exampleService } from '../src/app/index.ts';
import { startApi } from '../src/service/index.ts';
import { standaloneLink } from './support/live-api.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { until } from './support/queue.ts';
import { nap, TEST_JOBS } from './support/queue-jobs.ts';

let server: TestRedis;
const log = createLogger('silent');
const clients: Redis[] = [];

function client(): Redis {
  const c = createRedis({ url: server.url, commandTimeoutMs: 300, log });
  clients.push(c);
  return c;
}

/** How long `pending` took to settle, or Infinity when it had not after `limitMs` (a hang fails, not waits). */
async function timed(pending: Promise<unknown>, limitMs: number): Promise<number> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    pending.then(() => true, () => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), limitMs))),
  ]);
  clearTimeout(timer);
  return settled ? Date.now() - started : Infinity;
}

before(async () => {
  server = await startTestRedis();
});
afterEach(async () => {
  server.resume();
  await Promise.all(clients.splice(0).map((c) => closeRedis(c)));
});
after(() => server.stop());

test('closeRedis on a stopped Redis with a command in flight returns within its bound and rejects the command', async () => {
  const c = client();
  await until(() => c.isReady);
  server.pause();
  const inFlight = c.get('k');
  const outcome = inFlight.then(() => 'answered', () => 'rejected');
  const took = await timed(closeRedis(c, 300), 10_000);
  assert.ok(took < 3000, `closed within the bound: ${took} ms`);
  assert.equal(await outcome, 'rejected');
  assert.equal(c.isOpen, false);
});

test('a worker stop() with a job running and Redis stopped resolves within grace + STOP_SLACK_MS', async () => {
  const redis = client();
  await until(() => redis.isReady);
  const queue = createQueue({ redis, prefix: 'rc:', jobs: TEST_JOBS });
  const worker = startWorker({ queue, consumer: 'w', log, leaseMs: 1500, graceMs: 300, blockMs: 100, promoteEveryMs: 20 });
  await worker.ready;
  await queue.enqueue(nap, { ms: 60_000 });
  await until(() => worker.running() === 1);
  server.pause();
  const took = await timed(worker.stop(), 30_000);
  process.stdout.write(`# worker stop with Redis stopped: ${took} ms\n`);
  assert.ok(took <= 300 + STOP_SLACK_MS + 2000, `stopped in bounded time: ${took} ms`);
  assert.equal(worker.running(), 0);
});

test('the API stop() after a request met a stopped Redis resolves within the drain and close bounds', async () => {
  const config = loadConfig({ REDIS_URL: server.url, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', REDIS_COMMAND_TIMEOUT_MS: '300', DRAIN_TIMEOUT_MS: '1000', DOCS_ENABLED: 'false' });
  const api = await startApi(exampleService, config, log, standaloneLink());
  const base = `http://127.0.0.1:${(api.server.server.address() as AddressInfo).port}`;
  const probe = client();
  await until(async () => (await pingRedis(probe, 300)) && (await fetch(`${base}/readyz`)).status === 200, 30_000, 'the API to be ready');
  server.pause();
  // Its Redis check times out, but the PING stays queued on the API's connection.
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  const took = await timed(api.stop(), 30_000);
  process.stdout.write(`# API stop with Redis stopped: ${took} ms\n`);
  assert.ok(took < 1000 + 300 + 3000, `stopped in bounded time: ${took} ms`);
});
