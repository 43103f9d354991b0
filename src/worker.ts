// The worker process entry (`npm run worker`): one queue worker on its own Redis connections, stopped
// gracefully on SIGTERM/SIGINT (exit 0). The cluster supervisor starts several through `startWorkerProcess`.
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { loadConfigOrExit, type Config } from './config.ts';
import { appJobs } from './app/exports.ts';
import { joinSupervisor } from './cluster/index.ts';
import { createLogger, type Logger } from './log.ts';
import { closeRedis, createRedis } from './redis/index.ts';
import { createQueue, startWorker, type CronEntry, type JobDefinition, type Worker } from './queue/index.ts';

export interface WorkerProcessOptions {
  config?: Config;
  log?: Logger;
  /** The job definitions this worker runs (default: the example app's). */
  jobs?: JobDefinition[];
  cron?: CronEntry[];
  /** Overrides for tests: faster polling and shorter blocking reads. */
  blockMs?: number;
  promoteEveryMs?: number;
}

export interface WorkerProcess {
  readonly worker: Worker;
  /** Resolves once the worker reads its queue. */
  readonly ready: Promise<void>;
  /** Graceful: stop reading, finish or re-queue running jobs, close Redis. Idempotent. */
  stop(): Promise<void>;
}

export function startWorkerProcess(options: WorkerProcessOptions = {}): WorkerProcess {
  const config = options.config ?? loadConfigOrExit();
  const log = options.log ?? createLogger(config.logLevel, { service: 'skiff-worker' });
  const consumer = config.queue.workerId ?? `${hostname()}-${process.pid}`;
  const redis = createRedis({ url: config.redisUrl ?? 'redis://127.0.0.1:6379', commandTimeoutMs: config.redisCommandTimeoutMs, log, name: consumer });
  const queue = createQueue({ redis, prefix: config.redisPrefix, name: config.queue.name, jobs: options.jobs ?? appJobs(config), commandTimeoutMs: config.redisCommandTimeoutMs });
  const worker = startWorker({
    queue,
    consumer,
    log,
    maxJobs: config.queue.maxJobs,
    leaseMs: config.queue.leaseMs,
    graceMs: config.queue.graceMs,
    blockMs: options.blockMs,
    promoteEveryMs: options.promoteEveryMs,
    cron: options.cron,
  });
  let stopped: Promise<void> | null = null;
  return {
    worker,
    ready: worker.ready,
    stop: () => (stopped ??= worker.stop().finally(() => closeRedis(redis))),
  };
}

/**
 * Runs a worker process: under the cluster supervisor it reports readiness and stops on the supervisor's order;
 * alone it stops on SIGTERM or SIGINT. Either way the stop is graceful and the process exits 0.
 */
export function runWorkerProcess(options: WorkerProcessOptions = {}): WorkerProcess {
  const config = options.config ?? loadConfigOrExit();
  const log = options.log ?? createLogger(config.logLevel, { service: 'skiff-worker' });
  const handle = startWorkerProcess({ ...options, config, log });
  const link = joinSupervisor({ log, stop: handle.stop });
  handle.ready.then(() => link.ready(), () => {});
  return handle;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWorkerProcess();
}
