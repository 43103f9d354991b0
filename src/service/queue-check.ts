// The start-up check of a queue's partition count (Queue.checkPartitions), for API and worker processes alike.
import { QueuePartitionsError, type Queue } from '../queue/index.ts';

/** Between attempts while Redis does not answer. */
const RETRY_MS = 1000;

/**
 * Resolves once Redis has answered the check, retrying while it does not (a process starts while Redis is away),
 * or once `stopped()`; rejects with the QueuePartitionsError of a count other than the recorded one.
 */
export async function checkPartitionsWhenReachable(queue: Queue, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    try {
      return await queue.checkPartitions();
    } catch (err) {
      if (err instanceof QueuePartitionsError) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
  }
}
