// Queue families, built from what the queue exports (`queue.stats()`); the entry point registers them on
// `metrics.perCluster` (the cache registers its own collector on `metrics.perProcess`).
import type { QueueStats } from '../queue/index.ts';
import type { MetricFamily } from './registry.ts';

const QUEUE_GAUGES: [keyof QueueStats, string, string, number][] = [
  ['queued', 'skiff_queue_depth', 'Jobs waiting to be picked up.', 1],
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
export function queueFamilies(all: readonly QueueStats[]): MetricFamily[] {
  const family = (name: string, type: 'gauge' | 'counter', help: string, key: keyof QueueStats, scale: number): MetricFamily => ({
    name, type, help, samples: all.map((s) => ({ suffix: '', labels: { queue: s.queue }, value: Number(s[key]) * scale })),
  });
  return [
    ...QUEUE_GAUGES.map(([key, name, help, scale]) => family(name, 'gauge', help, key, scale)),
    ...QUEUE_COUNTERS.map(([key, name, help]) => family(name, 'counter', help, key, 1)),
  ];
}
