// A real worker process for the queue tests: the production entry with the test jobs; short timings come from
// the environment (JOB_LEASE_MS, WORKER_GRACE_MS, ...). Prints "ready" once it reads its queue.
import { cron } from '../../src/queue/index.ts';
import { runWorkerProcess } from '../../src/service/index.ts';
import { TEST_JOBS, tick } from './queue-jobs.ts';

const handle = runWorkerProcess({
  jobs: TEST_JOBS,
  cron: process.env.TEST_CRON ? [cron(process.env.TEST_CRON, tick, {})] : [],
  rateLimit: process.env.TEST_RATE_LIMIT ? { jobs: Number(process.env.TEST_RATE_LIMIT.split(',')[0]), perMs: Number(process.env.TEST_RATE_LIMIT.split(',')[1]) } : undefined,
  blockMs: 200,
  promoteEveryMs: 20,
});
await handle.ready;
process.stdout.write('ready\n');
