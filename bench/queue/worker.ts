// One bench worker process (skiff or BullMQ), concurrency 50, no-op jobs. It connects, reports 'ready', and
// starts consuming only when told 'start', so enqueue and processing are measured apart.
import { Worker as BullWorker } from 'bullmq';
import { createLogger } from '../../src/log.ts';
import { createRedis } from '../../src/redis/index.ts';
import { createQueue, startWorker } from '../../src/queue/index.ts';
import { BENCH_QUEUE, CONCURRENCY, noop, PREFIX } from './jobs.ts';

const [system, url] = process.argv.slice(2);
const send = (msg: string) => process.send?.(msg);
let stop: () => Promise<unknown> = async () => {};

if (system === 'skiff') {
  const log = createLogger('warn');
  const redis = createRedis({ url, commandTimeoutMs: 5000, log, name: 'bench-worker' });
  const queue = createQueue({ redis, prefix: PREFIX, name: BENCH_QUEUE, jobs: [noop] });
  while (!redis.isReady) await new Promise((r) => setTimeout(r, 10));
  await queue.ensureGroup();
  process.on('message', (msg) => {
    if (msg !== 'start') return;
    const worker = startWorker({ queue, consumer: 'bench', log, maxJobs: CONCURRENCY });
    stop = () => worker.stop().then(() => redis.close());
  });
} else {
  const { hostname, port } = new URL(url);
  const worker = new BullWorker(BENCH_QUEUE, async () => null, {
    connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
    concurrency: CONCURRENCY,
    autorun: false,
  });
  await worker.waitUntilReady();
  process.on('message', (msg) => {
    if (msg === 'start') void worker.run();
  });
  stop = () => worker.close();
}
process.on('message', (msg) => {
  if (msg === 'stop') void stop().finally(() => process.exit(0));
});
send('ready');
