// The start-up checks of a process that writes queue data, API and queue worker alike: Redis must not evict keys
// (SKIFF_REDIS_EVICTION) and the queue's partition count must be the recorded one (SKIFF_QUEUE_PARTITIONS).
import type { WorkerLink } from '../cluster/index.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { QueuePartitionsError, type Queue } from '../queue/index.ts';
import { checkEvictionPolicy } from '../redis/index.ts';

/** After an attempt Redis did not answer. */
const RETRY_MS = 1000;
/** Between looks at a client that is not connected yet (it connects in the background). */
const CONNECT_POLL_MS = 10;
/** What a refused process waits for: link.fatal() exits it. */
const EXITING = new Promise<never>(() => {});

export interface StartupChecks {
  /**
   * Resolves once every check passed. After a refusal it never settles (the process exits), or rejects where
   * link.fatal() throws (a test's stand-in link).
   */
  readonly passed: Promise<void>;
  /** Resolves once the eviction check passed or could not be made (it waits at most the command timeout); never after a refusal. */
  readonly evictionChecked: Promise<void>;
}

/**
 * Starts the checks on the queue's connection. Refused, the process undoes what `release` does (stops as on
 * SIGTERM), then tells its supervisor why and exits 1 (link.fatal): every sibling would be refused the same way.
 */
export function runStartupChecks(queue: Queue, config: Config, log: Logger, link: WorkerLink, options: { stopped: () => boolean; release: () => Promise<void> }): StartupChecks {
  const eviction = checkEvictionPolicy(queue.redis, { require: config.redisRequireNoEviction, log, timeoutMs: config.redisCommandTimeoutMs });
  const passed = Promise.all([eviction, checkPartitionsWhenReachable(queue, options.stopped)]).then(() => {}, async (err: unknown) => {
    try {
      await options.release();
    } finally {
      link.fatal(err instanceof Error ? err.message : String(err));
    }
    return EXITING;
  });
  return { passed, evictionChecked: eviction.then(() => {}, () => EXITING) };
}

/**
 * Resolves once Redis has answered the partition check (Queue.checkPartitions), retrying while it does not (a
 * process starts while Redis is away), or once `stopped()`; rejects with the QueuePartitionsError of a count other
 * than the recorded one.
 */
async function checkPartitionsWhenReachable(queue: Queue, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    let waitMs = CONNECT_POLL_MS;
    if (queue.redis.isReady) {
      try {
        return await queue.checkPartitions();
      } catch (err) {
        if (err instanceof QueuePartitionsError) throw err;
      }
      waitMs = RETRY_MS;
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
  }
}
