// A partitioned queue is n ordinary queues under one name: partition 0 is the queue `name` itself (so a queue that
// grows from one partition keeps its data there), partition p > 0 is the queue `name#k`, each with its own
// `{hash tag}` and so its own slot. Which partition holds a job follows from its id alone (partitionIndex), so
// reads and aborts go straight to one key set; the producer picks the partition first and draws an id that maps to
// it. The names are chosen so that the n partitions fall in n different n-ths of the slot space: on a cluster whose
// masters hold equal contiguous slot ranges (what `redis-cli --cluster create` makes), n masters, or a multiple of
// n, get one partition each.
import { randomUUID } from 'node:crypto';
import { CLUSTER_SLOTS, keySlot } from '../redis/index.ts';
import { PRIORITIES } from './keys.ts';
import type { QueueStats } from './queue.ts';
import type { Worker, WorkerOptions } from './worker.ts';

/** Most partitions a queue may have (QUEUE_PARTITIONS). */
export const MAX_PARTITIONS = 64;

/** Which n-th of the slot space a hash tag falls in, when it falls in that n-th's middle half; else -1. */
function centralRange(tag: string, n: number): number {
  const at = (keySlot(`{${tag}}`) * n) / CLUSTER_SLOTS;
  const range = Math.floor(at);
  const offset = at - range;
  return offset >= 0.25 && offset < 0.75 ? range : -1;
}

/**
 * The queue names of a queue's n partitions: `name` first, then for each n-th of the slot space that `name` does
 * not fall in (in slot order), `name#k` with the smallest k ≥ 1 whose slot lies in the middle half of that n-th
 * (the middle, so that a cluster whose ranges are split a few slots off still puts it on the same master).
 */
export function partitionNames(name: string, n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS) throw new RangeError(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${n}`);
  const names = [name];
  if (n === 1) return names;
  const own = Math.floor((keySlot(`{${name}}`) * n) / CLUSTER_SLOTS);
  for (let range = 0; range < n; range++) {
    if (range === own) continue;
    let k = 1;
    while (centralRange(`${name}#${k}`, n) !== range) k++;
    names.push(`${name}#${k}`);
  }
  return names;
}

/** The partition (0 … n − 1) that holds job `id`: FNV-1a of the id, mod n. The same in every process. */
export function partitionIndex(id: string, n: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % n;
}

/** A random job id that partition `p` of n holds (n tries on average). */
export function randomIdIn(p: number, n: number): string {
  for (;;) {
    const id = randomUUID();
    if (partitionIndex(id, n) === p) return id;
  }
}

/**
 * One queue's stats from its partitions': counts summed; the oldest wait and the live workers are the largest
 * (every worker process reads every partition, so each partition sees them all).
 */
export function sumStats(queue: string, parts: QueueStats[]): QueueStats {
  type Count = { [K in keyof QueueStats]: QueueStats[K] extends number ? K : never }[keyof QueueStats];
  const sum = (field: Count) => parts.reduce((total, part) => total + part[field], 0);
  const most = (field: Count) => Math.max(...parts.map((part) => part[field]));
  const byPriority = { ...parts[0]!.queuedByPriority };
  for (const part of parts.slice(1)) for (const p of PRIORITIES) byPriority[p] += part.queuedByPriority[p];
  return {
    queue, queued: sum('queued'), queuedByPriority: byPriority, waiting: sum('waiting'), inProgress: sum('inProgress'), delayed: sum('delayed'), dead: sum('dead'),
    oldestQueuedMs: most('oldestQueuedMs'), processed: sum('processed'), failed: sum('failed'), retried: sum('retried'), workers: most('workers'),
  };
}

/**
 * A worker over every partition of a queue: one worker per partition (its own blocking read, heartbeat and
 * timers), each with an equal share of `maxJobs` (at least 1), so no partition waits for another's backlog. Cron
 * ticks are enqueued by the first only (their ids dedupe them across processes anyway).
 */
export function startPartitionedWorker(options: WorkerOptions & { maxJobs: number }, start: (options: WorkerOptions) => Worker): Worker {
  const { partitions } = options.queue;
  const n = partitions.length;
  const { maxJobs } = options;
  const workers = partitions.map((queue, p) => start({
    ...options, queue, maxJobs: Math.max(1, Math.floor(maxJobs / n) + (p < maxJobs % n ? 1 : 0)), cron: p === 0 ? options.cron : [],
  }));
  return {
    consumer: options.consumer,
    ready: Promise.all(workers.map((w) => w.ready)).then(() => {}),
    running: () => workers.reduce((total, w) => total + w.running(), 0),
    stop: async () => {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
