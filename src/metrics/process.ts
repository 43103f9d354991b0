// Per-process health: memory and event-loop delay, labelled by pid so the cluster view keeps them apart.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Collector, MetricFamily } from './registry.ts';

export function processCollector(): Collector {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const labels = { pid: String(process.pid) };
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, type: 'gauge', help, samples: [{ suffix: '', labels, value }] });
  return () => {
    const mem = process.memoryUsage();
    const families = [
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss),
      gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', mem.heapUsed),
      gauge('nodejs_eventloop_delay_p99_seconds', 'p99 event-loop delay since the previous scrape.', delay.percentile(99) / 1e9),
      gauge('nodejs_eventloop_delay_max_seconds', 'Longest event-loop delay since the previous scrape.', delay.max / 1e9),
    ];
    delay.reset();
    return families;
  };
}
