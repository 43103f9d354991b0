// The apps the job tests drive, on whichever Redis a test hands them (a single server, or a cluster): the example
// app with its export job, a second app mounting the reusable jobs router on the test jobs (fast heartbeats), and
// one in-process worker per queue.
import { appJobs } from '../../src/app/exports.ts';
import { buildApp } from '../../src/app/index.ts';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { pingRedis, redisErrorAnswer, type Redis } from '../../src/redis/index.ts';
import { createApp } from '../../src/router/index.ts';
import { createJobsRouter, createQueue, startWorker, type Queue, type Worker } from '../../src/queue/index.ts';
import { testClient, type TestClient } from '../../src/testing/index.ts';
import { TEST_JOBS } from './queue-jobs.ts';

export interface JobApps {
  /** The example app (config.redisPrefix). */
  app: TestClient;
  /** The jobs router on `testQueue` (prefix `qt:`). */
  jobsApp: TestClient;
  appQueue: Queue;
  testQueue: Queue;
  stop(): Promise<void>;
}

export async function startJobApps(redis: Redis, config: Config, options: { leaseMs: number }): Promise<JobApps> {
  const log = createLogger('silent');
  const timeoutMs = config.redisCommandTimeoutMs;
  const app = await testClient(buildApp({ config, log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, timeoutMs) }));
  const appQueue = createQueue({ redis, prefix: config.redisPrefix, jobs: appJobs(config) });
  const testQueue = createQueue({ redis, prefix: 'qt:', jobs: TEST_JOBS, commandTimeoutMs: timeoutMs });
  const custom = createApp({ log, bodyLimitBytes: 1 << 20, responseValidation: true, onError: redisErrorAnswer });
  custom.include(createJobsRouter(testQueue, { heartbeatMs: 100 }), { prefix: '/v1' });
  const jobsApp = await testClient(custom);
  const workers: Worker[] = [appQueue, testQueue].map((queue, i) =>
    startWorker({ queue, consumer: `w-${i}`, log, leaseMs: options.leaseMs, blockMs: 100, promoteEveryMs: 20 }));
  await Promise.all(workers.map((w) => w.ready));
  return {
    app,
    jobsApp,
    appQueue,
    testQueue,
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await app.close();
      await jobsApp.close();
    },
  };
}
