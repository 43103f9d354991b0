// Public face of the metrics: registries, the cluster-wide scrape and the app serving GET /metrics on its own
// listener (METRICS_HOST:METRICS_PORT), apart from the API.
//
// Registration hook for subsystems: `metrics.perProcess.collect(fn)` for counters each process keeps (cache
// hits and misses: summed over all HTTP workers), `metrics.perCluster.collect(fn)` for figures read from a
// shared source (queue depth in Redis: measured once per scrape). `fn` returns MetricFamily[]; each subsystem
// exports its own (`cacheCollector`, `queueCollector`), so this folder imports none of them.
import { Type } from '@sinclair/typebox';
import type { Logger } from '../log.ts';
import { createApp, createRouter, type App, type Router } from '../router/index.ts';
import { mergeFamilies, PROMETHEUS_CONTENT_TYPE, Registry, renderPrometheus, type MetricFamily } from './registry.ts';
import { processCollector } from './process.ts';

export { Registry, mergeFamilies, renderPrometheus, PROMETHEUS_CONTENT_TYPE, DEFAULT_BUCKETS, type MetricFamily, type Sample, type Collector, type Counter, type Gauge, type Histogram } from './registry.ts';
export { instrumentApp, countInFlight, countRejected } from './http.ts';
export { processCollector } from './process.ts';

export interface ServerMetrics {
  /** Kept by every HTTP worker; a scrape sums them over all workers. */
  readonly perProcess: Registry;
  /** Measured once per scrape, by the worker that answers it. */
  readonly perCluster: Registry;
  /** The Prometheus text of the whole server. */
  scrape(): Promise<string>;
}

/** `gather` returns every worker's `perProcess.snapshot()` (the supervisor link's gather). */
export function createServerMetrics(gather: () => Promise<unknown[]>): ServerMetrics {
  const perProcess = new Registry();
  const perCluster = new Registry();
  perProcess.collect(processCollector());
  return {
    perProcess,
    perCluster,
    async scrape() {
      const [workers, shared] = await Promise.all([gather(), perCluster.snapshot()]);
      return renderPrometheus(mergeFamilies([...(workers as MetricFamily[][]), shared]));
    },
  };
}

/**
 * GET /metrics alone, for a listener of its own: the figures name routes, rates and internals that the public
 * port should not show. In cluster mode every HTTP worker listens on it (one shared socket, like the API's), and
 * the worker that takes a scrape gathers its siblings' counters.
 */
export function metricsApp(metrics: ServerMetrics, log: Logger): App {
  return createApp({ log }).include(metricsRouter(metrics));
}

function metricsRouter(metrics: ServerMetrics): Router {
  return createRouter({ tags: ['operations'] }).get(
    '/metrics',
    {
      summary: 'Metrics',
      description: 'Prometheus text format, aggregated over every HTTP worker of this server.',
      operationId: 'getMetrics',
      response: { 200: { description: 'Prometheus exposition format 0.0.4.', contentType: PROMETHEUS_CONTENT_TYPE, schema: Type.String() } },
    },
    () => metrics.scrape(),
  );
}
