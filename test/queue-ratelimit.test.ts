// The queue's rate limit across real worker processes: three workers share `rateLimit: { jobs: 5, perMs: 1000 }`
// over a backlog of 25 jobs. Counted on the limiter's own clock (Redis TIME, which a rate-limited queue records as
// each job's started_at): no 1000 ms window holds more than 5 starts; each window from the first start holds the
// quota ± 1 while the backlog lasts (a worker slow to wake moves starts across a boundary without changing their
// sum; such a delay is measured and only it widens the bound); every job runs once and completes; and a worker
// held back by the limit waits for it instead of polling (its start-script calls, seen through MONITOR, stay few).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, type Redis } from '../src/redis/index.ts';
import { createQueue, type Queue } from '../src/queue/index.ts';
import { SCRIPTS } from '../src/queue/scripts.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { killWorkers, spawnWorker, until, type WorkerProc } from './support/queue.ts';
import { nap, TEST_JOBS } from './support/queue-jobs.ts';

const QUOTA = 5;
const WINDOW_MS = 1000;
const JOBS = 25;

let server: TestRedis;
let redis: Redis;
let queue: Queue;
const procs: WorkerProc[] = [];

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log: createLogger('silent') });
  await until(() => redis.isReady);
  queue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: 1000 });
});
after(async () => {
  await killWorkers(procs);
  await closeRedis(redis);
  await server.stop();
});

test(`3 workers, ${QUOTA} jobs per ${WINDOW_MS} ms: no window over the quota, each window the quota ± 1, every job once`, async (t) => {
  // All three read before the backlog arrives, so each competes for every start the limit allows.
  procs.push(...await Promise.all(['A', 'B', 'C'].map((id) => spawnWorker(server.url, id, { TEST_RATE_LIMIT: `${QUOTA},${WINDOW_MS}` }))));
  const monitor = redis.duplicate();
  await monitor.connect();
  let startCalls = 0;
  await monitor.monitor((line: string) => {
    if (line.includes(`"EVALSHA" "${SCRIPTS.startJobs.sha}"`)) startCalls++;
  });
  const jobs = await Promise.all(Array.from({ length: JOBS }, () => queue.enqueue(nap, { ms: 10 })));
  await until(async () => (await Promise.all(jobs.map((j) => j.status()))).every((s) => s === 'complete'), 60_000, 'every job to complete');
  monitor.destroy();

  const records = await Promise.all(jobs.map((j) => queue.getJob(j.id)));
  const starts = records.map((r) => r!.startedAt!).sort((a, b) => a - b);
  const traces = await Promise.all(jobs.map((j) => redis.lRange(`runs:${j.id}`, 0, -1)));
  assert.ok(traces.every((r) => r.length === 1), 'every job ran exactly once');
  assert.ok(records.every((r) => r!.attempt === 1), 'none failed or was lost on the way');

  // No window holds more than the quota: the start QUOTA places later is at least a window later.
  for (let i = QUOTA; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - QUOTA] >= WINDOW_MS, `starts ${i - QUOTA} and ${i} are ${starts[i] - starts[i - QUOTA]} ms apart`);
  }
  // Each whole window from the first start, while the backlog lasts: the quota ± 1. A start the limit allowed
  // before a window ended (its QUOTA-earlier start a window before) but that a worker made after counts as moved.
  const t0 = starts[0];
  const moved = (boundary: number) => starts.filter((s, i) => i >= QUOTA && starts[i - QUOTA] + WINDOW_MS < boundary && s >= boundary).length;
  const perWindow: number[] = [];
  for (let k = 0; t0 + (k + 1) * WINDOW_MS <= starts[starts.length - 1]; k++) {
    const [from, to] = [t0 + k * WINDOW_MS, t0 + (k + 1) * WINDOW_MS];
    const count = starts.filter((s) => s >= from && s < to).length;
    perWindow.push(count);
    const slack = 1 + moved(to);
    assert.ok(count <= QUOTA + 1 && count >= QUOTA - slack, `window ${k + 1}: ${count} started, quota ${QUOTA} ± ${slack}`);
  }
  assert.ok(perWindow.length >= 3, `the backlog lasted ${perWindow.length} whole windows`);
  // Each worker calls the start script about once per window (when the limit frees starts), plus its first call
  // and those after settles: polling every 200 ms would be 5 a window, a busy loop thousands.
  const bound = 3 * 3 * (JOBS / QUOTA + 2);
  assert.ok(startCalls <= bound, `${startCalls} start-script calls, at most ${bound}`);
  const byWorker = ['A', 'B', 'C'].map((id) => traces.filter((r) => r[0].startsWith(`${id}:`)).length);
  t.diagnostic(`starts per window ${perWindow.join(' ')} (quota ${QUOTA}); last start ${starts[starts.length - 1] - t0} ms after the first; ${startCalls} start-script calls; jobs run by A, B, C: ${byWorker.join(' ')}`);
});
