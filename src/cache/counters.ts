// What the cache counts, for /metrics.

/** Monotonic counters of what the cache did; `cache.counters()` returns a copy for /metrics. */
export interface CacheCounters {
  hits: number;
  /** Hits answered from the local tier, with no Redis round trip (counted in `hits` too). */
  localHits: number;
  misses: number;
  /** Stale entries served while one refresh ran (stale-while-revalidate). */
  stale: number;
  /** Stale entries served because the handler failed (stale-if-error). */
  staleIfError: number;
  bypasses: number;
  /** 304 Not Modified answers. */
  notModified: number;
  stores: number;
  /** Fills that did not store because an invalidation ran meanwhile. */
  storesSkipped: number;
  /** Requests answered by another request's fill, in this process or another. */
  coalesced: number;
  refreshes: number;
  invalidations: number;
  /** Store calls that failed or timed out (the breaker counts them). */
  storeErrors: number;
  /** Times the circuit opened. */
  circuitOpened: number;
  /** Times the local tier suspended itself (the tier counts them). */
  localSuspensions: number;
}

export function zeroCounters(): CacheCounters {
  return {
    hits: 0, localHits: 0, misses: 0, stale: 0, staleIfError: 0, bypasses: 0, notModified: 0, stores: 0, storesSkipped: 0,
    coalesced: 0, refreshes: 0, invalidations: 0, storeErrors: 0, circuitOpened: 0, localSuspensions: 0,
  };
}
