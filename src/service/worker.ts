// A queue worker process: one consumer on its own Redis connections, stopped gracefully (exit 0).
import { hostname } from 'node:os';
import { joinSupervisor } from '../cluster/index.ts';
import { loadConfigOrExit, type Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { createQueue, startWorker, type CronEntry, type JobDefinition, type Queue, type QueueOptions, type Worker } from '../queue/index.ts';
import { closeRedis, createRedis, type Redis } from '../redis/index.ts';
import { runStartupChecks } from './startup-checks.ts';

export interface WorkerProcessOptions {
  /** The job definitions this worker runs. */
  jobs: JobDefinition[];
  cron?: CronEntry[];
  config?: Config;
  log?: Logger;
  /** Appended to WORKER_ID, so the processes of one supervisor never share a consumer name. */
  consumerSuffix?: string;
  /** The queue's rate limit (createQueue's `rateLimit`): at most `jobs` starts in any `perMs`, across workers. */
  rateLimit?: QueueOptions['rateLimit'];
  /** Overrides for tests: faster polling and shorter blocking reads. */
  blockMs?: number;
  promoteEveryMs?: number;
}

export interface WorkerProcess {
  readonly worker: Worker;
  /** The worker's main Redis connection. */
  readonly redis: Redis;
  /** The queue it serves. */
  readonly queue: Queue;
  /** Resolves once the worker reads its queue. */
  readonly ready: Promise<void>;
  /**
   * Graceful: stop reading, finish or re-queue running jobs, close Redis. Idempotent. Resolves within
   * WORKER_GRACE_MS + STOP_SLACK_MS + REDIS_COMMAND_TIMEOUT_MS even with Redis hung.
   */
  stop(): Promise<void>;
}

export function startWorkerProcess(options: WorkerProcessOptions): WorkerProcess {
  const config = options.config ?? loadConfigOrExit();
  const log = options.log ?? createLogger(config.logLevel, { service: 'skiff-worker' });
  const { workerId } = config.queue;
  const consumer = workerId === undefined ? `${hostname()}-${process.pid}` : options.consumerSuffix ? `${workerId}-${options.consumerSuffix}` : workerId;
  const redis = createRedis({ url: config.redisUrl ?? 'redis://127.0.0.1:6379', topology: config.redisTopology, access: config.redisAccess, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: consumer });
  const queue = createQueue({
    redis, prefix: config.redisPrefix, name: config.queue.name, jobs: options.jobs, commandTimeoutMs: config.redisCommandTimeoutMs,
    retention: config.queue.retention, replicaAck: config.queue.replicaAck, partitions: config.queue.partitions,
    rateLimit: options.rateLimit,
  });
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
    redis,
    queue,
    ready: worker.ready,
    stop: () => (stopped ??= worker.stop().finally(() => closeRedis(redis, config.redisCommandTimeoutMs))),
  };
}

/**
 * Runs a worker process: under the cluster supervisor it reports readiness and stops on the supervisor's order;
 * alone it stops on SIGTERM or SIGINT. Either way the stop is graceful and the process exits 0.
 */
export function runWorkerProcess(options: WorkerProcessOptions): WorkerProcess {
  const config = options.config ?? loadConfigOrExit();
  const log = options.log ?? createLogger(config.logLevel, { service: 'skiff-worker' });
  let reading = false;
  let stopping = false;
  // Before it reads its queue a worker holds no job, so a stop need not wait for a Redis that may never answer.
  const link = joinSupervisor({ log, stop: () => {
    stopping = true;
    return reading ? started.stop() : Promise.resolve();
  } });
  const started = startWorkerProcess({ consumerSuffix: link.supervised ? link.id : undefined, ...options, config, log });
  // Redis unreachable before the worker reads: it is alive and waiting (its client logs the retries), not a
  // worker that failed to start, which the supervisor would kill and replace every boot timeout.
  const waiting = () => link.waiting('redis unreachable');
  started.redis.once('error', waiting);
  // The API's start-up checks (one code path for both): a worker's writes are queue data as much as an enqueue, and a worker
  // with another partition count than the producers' leaves jobs unread. Refused, it stops as on SIGTERM (what it
  // may have taken meanwhile goes back to the queue), then exits 1 with the reason.
  const checks = runStartupChecks(started.queue, config, log, link, { stopped: () => stopping, release: () => started.stop() });
  // Reading, it holds jobs: from then on a stop is the graceful one, whatever the checks still wait for.
  started.ready.then(() => (reading = true), () => {});
  Promise.all([started.ready, checks.passed]).then(() => {
    started.redis.off('error', waiting);
    link.ready();
  }, () => {});
  return started;
}
