// Public face of the response cache: `createCache()` over a Redis or in-memory store; `cache.route()` is the
// interceptor a route lists in `use`; `cache.invalidate()` is for handlers and jobs; `cache.counters()` for /metrics.
import { systemClock, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Collector, MetricFamily } from '../metrics/index.ts';
import { Deadline } from '../deadline.ts';
import type { Redis } from '../redis/index.ts';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from '../breaker.ts';
import { zeroCounters, type CacheCounters } from './counters.ts';
import { cacheRoute, type CacheInterceptor, type CacheRouteOptions } from './interceptor.ts';
import { memoryCacheStore } from './memory-store.ts';
import { openLocalTier } from './local-tier.ts';
import { redisCacheStore } from './redis-store.ts';
import { FAILED, type CacheRuntime } from './runtime.ts';
import type { CacheStore, InvalidateSpec, LocalTierState } from './store.ts';

export { memoryCacheStore, type MemoryStoreOptions } from './memory-store.ts';
export { redisCacheStore } from './redis-store.ts';
export { LocalTier, openLocalTier, type LocalTierOptions } from './local-tier.ts';
export { requestKey, normalisePath, type KeyParts } from './request-key.ts';
export { type CacheInterceptor, type CacheRouteOptions } from './interceptor.ts';
export { documentCaching } from './openapi.ts';
export type { CacheStore, EntryRef, FillClaim, InvalidateSpec, LocalTierState, PutParams } from './store.ts';
export type { CacheCounters } from './counters.ts';
export type { BreakerState } from '../breaker.ts';
export type { Clock } from '../clock.ts';

export interface CacheOptions {
  store: CacheStore;
  log: Logger;
  /** Bounds store calls made outside a request (invalidations without a deadline, the breaker's probe);
   *  within a request, calls share the request's deadline (ctx.deadline). Usually the Redis command timeout. */
  timeoutMs: number;
  /** Off: every route runs its handler and no cache headers are added (default on). */
  enabled?: boolean;
  /** Larger bodies are served but not stored (default 1 MiB). */
  maxBodyBytes?: number;
  /** How long a fill lock lives: the most a dead filler can delay others (default 10 s). */
  lockTtlMs?: number;
  /** Request `Cache-Control: no-cache` forces a fresh answer when true; ignored by default, so one client
   *  cannot make every request run the handler. `no-store` is always honoured: that response is not stored. */
  honorNoCache?: boolean;
  breaker?: Partial<BreakerOptions>;
  /** The cache's name in `Cache-Status` (default `skiff`). */
  name?: string;
  /** Judges freshness, Age, the stale windows and the breaker's cool-down (default the system clock); tests pass
   *  one they move. Redis still expires keys on its own time. */
  clock?: Clock;
}

export interface Cache {
  readonly store: CacheStore;
  /** An interceptor for a route's `use: [...]`. */
  route(options: CacheRouteOptions): CacheInterceptor;
  /**
   * Deletes the entries with any of `tags` (in `namespace` only, when given), or the whole `namespace`.
   * Resolves true once applied; false when the store is unreachable: the invalidation is then kept and
   * replayed before this process serves from the cache again. From a handler, pass `ctx.deadline` so the
   * invalidation waits only what is left of the request's Redis deadline.
   */
  invalidate(spec: InvalidateSpec, deadline?: Deadline): Promise<boolean>;
  /** A snapshot of the counters plus the circuit state and the local tier's (null without one), for /metrics. */
  counters(): CacheCounters & { circuit: BreakerState; local: LocalTierState | null };
  /** Closes what the cache opened itself (the local tier's connection); the Redis client it was given stays open. */
  close(): Promise<void>;
}

export function createCache(options: CacheOptions): Cache {
  const log = options.log.child({ component: 'cache', store: options.store.kind });
  const store = options.store;
  const counters = zeroCounters();
  const clock = options.clock ?? systemClock;
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, ...options.breaker }, log, () => new Deadline(options.timeoutMs).bound(store.ping()), {
    opened: 'cache store failing; serving without cache',
    closed: 'cache store reachable again; caching resumes',
  }, clock);
  const pending: InvalidateSpec[] = [];
  const enabled = options.enabled ?? true;

  const guarded = <T>(deadline: Deadline, call: () => Promise<T>): Promise<T | typeof FAILED> => breaker.guard(deadline, call);

  async function settleInvalidations(deadline: Deadline): Promise<boolean> {
    while (pending.length > 0) {
      if ((await guarded(deadline, () => store.invalidate(pending[0]))) === FAILED) return false;
      pending.shift();
      if (pending.length === 0) log.info('deferred cache invalidations applied');
    }
    return true;
  }

  const runtime: CacheRuntime = {
    store, counters, log, guarded, settleInvalidations,
    invalidationsPending: () => pending.length > 0,
    cacheName: options.name ?? 'skiff',
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
    lockTtlMs: options.lockTtlMs ?? 10_000,
    honorNoCache: options.honorNoCache ?? false,
    enabled,
    clock,
  };

  return {
    store,
    route: (routeOptions) => cacheRoute(runtime, routeOptions),
    async invalidate(spec, deadline) {
      if ((spec.tags === undefined || spec.tags.length === 0) && spec.namespace === undefined) {
        throw new TypeError('cache.invalidate needs tags or a namespace');
      }
      counters.invalidations++;
      if (pending.length === 0 && (await guarded(deadline ?? new Deadline(options.timeoutMs), () => store.invalidate(spec))) !== FAILED) return true;
      pending.push(spec);
      log.warn('cache invalidation deferred until the store answers; cached reads bypass until then', { tags: spec.tags, namespace: spec.namespace });
      return false;
    },
    counters: () => {
      const local = store.localState();
      return { ...counters, storeErrors: breaker.errors, circuitOpened: breaker.opened, localSuspensions: local?.suspensions ?? 0, circuit: breaker.state, local };
    },
    close: () => store.close(),
  };
}

/**
 * The cache an entry point builds from configuration: a Redis store on `redis` (the main client, or one for
 * CACHE_REDIS_URL) with a local tier of CACHE_LOCAL_MAX_BYTES in front (on a single Redis server only: see
 * local-tier.ts), or the in-memory LRU; store calls are bounded by the Redis command timeout.
 */
export function cacheFromConfig(config: Config, redis: Redis, log: Logger): Cache {
  const c = config.cache;
  const singleServer = c.redisUrl !== undefined || config.redisTopology === undefined;
  const local = c.store === 'redis' && c.localMaxBytes > 0 && singleServer
    ? openLocalTier(redis, { maxBytes: c.localMaxBytes, log, timeoutMs: config.redisCommandTimeoutMs })
    : null;
  return createCache({
    store: c.store === 'memory' ? memoryCacheStore(c.memory) : redisCacheStore(redis, config.redisPrefix, local),
    log,
    timeoutMs: config.redisCommandTimeoutMs,
    enabled: c.enabled,
    maxBodyBytes: c.maxBodyBytes,
    lockTtlMs: c.lockTtlMs,
    honorNoCache: c.honorNoCache,
  });
}

const COUNTER_HELP: Record<keyof CacheCounters, string> = {
  hits: 'Requests answered from a fresh cache entry.',
  localHits: 'Hits answered from the process\'s local tier, with no Redis round trip.',
  misses: 'Requests that ran (or waited on) a fill.',
  stale: 'Stale entries served while one refresh ran (stale-while-revalidate).',
  staleIfError: 'Stale entries served because the handler failed (stale-if-error).',
  bypasses: 'Requests that did not use the cache (credentials, no principal, store unavailable).',
  notModified: '304 Not Modified answers.',
  stores: 'Entries stored.',
  storesSkipped: 'Fills not stored because an invalidation ran meanwhile.',
  coalesced: 'Requests answered by another request\'s fill, in this process or another.',
  refreshes: 'Background refreshes started.',
  invalidations: 'cache.invalidate() calls.',
  storeErrors: 'Cache store calls that failed or timed out.',
  circuitOpened: 'Times the cache circuit breaker opened.',
  localSuspensions: 'Times the local tier emptied itself and went bypassed (its tracking connection dropped or went silent).',
};

const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, type: 'gauge', help, samples: [{ suffix: '', labels: {}, value }] });

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The cache's counters as Prometheus families, for `metrics.perProcess.collect(...)` (summed over workers). */
export function cacheCollector(cache: Cache): Collector {
  return () => {
    const snapshot = cache.counters();
    const families: MetricFamily[] = (Object.keys(COUNTER_HELP) as (keyof CacheCounters)[]).map((key) => ({
      name: `skiff_cache_${snake(key)}_total`, type: 'counter', help: COUNTER_HELP[key], samples: [{ suffix: '', labels: {}, value: snapshot[key] }],
    }));
    families.push(gauge('skiff_cache_circuit_open', 'Processes whose cache circuit breaker is open or probing.', snapshot.circuit === 'closed' ? 0 : 1));
    const local = snapshot.local;
    if (local !== null) {
      families.push(
        gauge('skiff_cache_local_tier_serving', 'Processes whose local tier serves (tracking connection up and answering).', local.serving ? 1 : 0),
        gauge('skiff_cache_local_tier_entries', 'Entries held by the local tiers.', local.entries),
        gauge('skiff_cache_local_tier_bytes', 'Bytes the local tiers count against CACHE_LOCAL_MAX_BYTES.', local.bytes),
      );
    }
    return families;
  };
}
