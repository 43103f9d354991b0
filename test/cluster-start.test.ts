// `npm start`: the API workers and the queue workers under one supervisor; the scrape shows the queue, and
// one Ctrl-C (SIGINT) stops everything with exit code 0.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createClient } from 'redis';
import { freePort } from '../src/redis/index.ts';
import { getJson, startPrimary } from './support/cluster.ts';
import { startTestRedis } from './support/redis.ts';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

test('the whole service starts in one command and stops on one SIGINT', async (t) => {
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  const port = await freePort();
  const metricsPort = await freePort();
  const primary = startPrimary({
    script: SERVER,
    args: ['--with-workers'],
    env: { REDIS_URL: redis.url, PORT: String(port), METRICS_PORT: String(metricsPort), WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '2', WORKER_ID: 'node', NODE_ENV: 'test' },
  });
  t.after(() => primary.kill());
  await primary.waitFor((l) => l.msg === 'all workers ready', 90_000);
  const groups = primary.lines.filter((l) => l.msg === 'worker ready').map((l) => l.group);
  assert.deepEqual(groups.sort(), ['api', 'worker', 'worker']);
  // One WORKER_ID for the unit, a distinct consumer name per process.
  const client = createClient({ url: redis.url });
  await client.connect();
  const [workersKey] = await client.keys('*q:{default}:workers');
  const consumers = await client.zRange(workersKey, 0, -1);
  await client.close();
  assert.equal(consumers.length, 2);
  assert.equal(new Set(consumers).size, 2);
  assert.ok(consumers.every((c) => /^node-\d+$/.test(c)), consumers.join());
  const metrics = await getJson(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.match(metrics.body, /^skiff_queue_depth\{queue="default"\} 0$/m);
  assert.match(metrics.body, /^skiff_cache_hits_total \d+$/m);
  primary.signal('SIGINT');
  assert.equal(await primary.exit, 0);
  assert.equal(primary.lines.filter((l) => l.msg === 'worker exited').length, 3);
});
