// The queue's figures for /metrics, read from Redis (`queue.stats()`): the entry point registers
// `queueCollector(queue)` on `metrics.perCluster`, as it registers the cache's collector on `metrics.perProcess`.
import type { Collector, MetricFamily } from '../metrics/index.ts';
import type { Queue, QueueStats } from './queue.ts';

const QUEUE_GAUGES: [keyof QueueStats, string, string, number][] = [
  ['queued', 'skiff_queue_depth', 'Jobs waiting to be picked up.', 1],
  ['waiting', 'skiff_queue_waiting', 'Jobs held back by their group\'s concurrency limit.', 1],
  ['inProgress', 'skiff_queue_in_progress', 'Jobs being run.', 1],
  ['delayed', 'skiff_queue_delayed', 'Jobs scheduled for later (delays and retries).', 1],
  ['dead', 'skiff_queue_dead', 'Jobs that exhausted their attempts.', 1],
  ['oldestQueuedMs', 'skiff_queue_oldest_age_seconds', 'Age of the oldest waiting job.', 1e-3],
  ['workers', 'skiff_queue_workers', 'Worker processes seen alive.', 1],
];
const QUEUE_COUNTERS: [keyof QueueStats, string, string][] = [
  ['processed', 'skiff_queue_processed_total', 'Jobs completed.'],
  ['failed', 'skiff_queue_failed_total', 'Job attempts that failed.'],
  ['retried', 'skiff_queue_retried_total', 'Job attempts scheduled again.'],
];

/** Read from Redis once per scrape: the same for every worker, so never summed. */
function queueFamilies(stats: QueueStats): MetricFamily[] {
  const family = (name: string, type: 'gauge' | 'counter', help: string, key: keyof QueueStats, scale: number): MetricFamily => ({
    name, type, help, samples: [{ suffix: '', labels: { queue: stats.queue }, value: Number(stats[key]) * scale }],
  });
  return [
    ...QUEUE_GAUGES.map(([key, name, help, scale]) => family(name, 'gauge', help, key, scale)),
    ...QUEUE_COUNTERS.map(([key, name, help]) => family(name, 'counter', help, key, 1)),
  ];
}

/** The queue's families; with Redis down the scrape still answers, without them. */
export function queueCollector(queue: Queue): Collector {
  return () => queue.stats().then(queueFamilies, () => []);
}
