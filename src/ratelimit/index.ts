// Public face of rate limiting and overload protection. `createRateLimiter()` over a Redis or in-memory store;
// `limiter.route({ policies, key, cost })` is the interceptor a route, router or app lists in `use` (before the
// cache's). `createOverloadGuard()` gives the `admit` hook of createApp. Both have collectors for /metrics.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Collector, MetricFamily } from '../metrics/index.ts';
import type { Redis } from '../redis/index.ts';
import { createRateLimiter, type RateLimiter } from './limiter.ts';
import { memoryRateLimitStore } from './memory-store.ts';
import { createOverloadGuard, type OverloadGuard, type OverloadReason } from './overload.ts';
import { redisRateLimitStore } from './redis-store.ts';

export { compilePolicy, type GcraPolicy, type RateLimitPolicy } from './policy.ts';
export { memoryRateLimitStore, type MemoryRateLimitStoreOptions } from './memory-store.ts';
export { redisRateLimitStore } from './redis-store.ts';
export type { RateLimitStore, Verdict } from './store.ts';
export { clientIp, trustedProxies } from './client-ip.ts';
export {
  createRateLimiter, documentRateLimit, QUOTA_EXCEEDED_TYPE,
  type RateLimiter, type RateLimiterOptions, type RateLimitRouteOptions, type RateLimitDecision, type RateLimitCounters,
} from './limiter.ts';
export { createOverloadGuard, REDUCED_CAPACITY_TYPE, type OverloadGuard, type OverloadOptions, type OverloadReason, type OverloadStatus } from './overload.ts';

/** The limiter an entry point builds from configuration: a Redis store on `redis`, or the in-memory map. */
export function rateLimiterFromConfig(config: Config, redis: Redis, log: Logger): RateLimiter {
  const c = config.rateLimit;
  return createRateLimiter({
    store: c.store === 'memory' ? memoryRateLimitStore() : redisRateLimitStore(redis, config.redisPrefix),
    log,
    timeoutMs: config.redisCommandTimeoutMs,
    enabled: c.enabled,
    failure: c.failure,
    trustedProxies: config.trustedProxies,
  });
}

/** The overload guard from configuration; the health probes are exempt (they report the overload). */
export function overloadGuardFromConfig(config: Config): OverloadGuard {
  return createOverloadGuard({ ...config.overload, exempt: ['/healthz', '/readyz'] });
}

const counter = (name: string, help: string, samples: MetricFamily['samples']): MetricFamily => ({ name, type: 'counter', help, samples });
const one = (value: number): MetricFamily['samples'] => [{ suffix: '', labels: {}, value }];

/** The limiter's counters as Prometheus families, for `metrics.perProcess.collect(...)` (summed over workers). */
export function rateLimitCollector(limiter: RateLimiter): Collector {
  return () => {
    const c = limiter.counters();
    const perPolicy = (counts: Record<string, number>) => Object.entries(counts).map(([policy, value]) => ({ suffix: '', labels: { policy }, value }));
    return [
      counter('skiff_ratelimit_allowed_total', 'Requests a rate-limit policy let through, by policy.', perPolicy(c.allowed)),
      counter('skiff_ratelimit_limited_total', 'Requests answered 429, by violated policy.', perPolicy(c.limited)),
      counter('skiff_ratelimit_store_unavailable_total', 'Rate-limit checks the store did not answer (error, timeout, open circuit).', one(c.storeUnavailable)),
      counter('skiff_ratelimit_failed_open_total', 'Requests let through unlimited because the store did not answer.', one(c.failedOpen)),
      counter('skiff_ratelimit_failed_closed_total', 'Requests answered 503 because the store did not answer.', one(c.failedClosed)),
      counter('skiff_ratelimit_circuit_opened_total', 'Times the rate-limit circuit breaker opened.', one(c.circuitOpened)),
      { name: 'skiff_ratelimit_circuit_open', type: 'gauge', help: 'Processes whose rate-limit circuit breaker is open or probing.', samples: one(c.circuit === 'closed' ? 0 : 1) },
    ];
  };
}

/** The overload guard's refusals and state, for `metrics.perProcess.collect(...)`. */
export function overloadCollector(guard: OverloadGuard): Collector {
  return () => {
    const rejected = guard.rejected();
    const status = guard.status();
    return [
      counter('skiff_overload_rejected_total', 'Requests refused with 503 before routing because the process was overloaded, by reason.',
        (Object.keys(rejected) as OverloadReason[]).map((reason) => ({ suffix: '', labels: { reason }, value: rejected[reason] }))),
      { name: 'skiff_overloaded', type: 'gauge', help: 'Processes refusing new requests as overloaded.', samples: one(status.overloaded ? 1 : 0) },
    ];
  };
}
