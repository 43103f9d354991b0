// The start-up check of a queue's partition count (Queue.checkPartitions), for API and worker processes alike.
import { QueuePartitionsError, type Queue } from '../queue/index.ts';

/** After an attempt Redis did not answer. */
const RETRY_MS = 1000;
/** Between looks at a client that is not connected yet (it connects in the background). */
const CONNECT_POLL_MS = 10;

/**
 * Resolves once Redis has answered the check, retrying while it does not (a process starts while Redis is away),
 * or once `stopped()`; rejects with the QueuePartitionsError of a count other than the recorded one.
 */
export async function checkPartitionsWhenReachable(queue: Queue, stopped: () => boolean): Promise<void> {
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
