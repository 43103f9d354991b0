// Fail-open plumbing: a circuit breaker in front of the store, and the counters /metrics reads.
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before one background probe is sent. */
  cooldownMs: number;
}

/**
 * closed: calls go through; `failureThreshold` failures in a row open it. open: calls are refused at once (the
 * cache answers as a bypass, nobody waits on a store that is down). Once `cooldownMs` has passed, the next call
 * asked for starts ONE probe in the background (half-open) and is itself refused, as are all calls while the probe
 * runs: no client request ever waits to find out whether the store is back. The probe's outcome closes or
 * re-opens the circuit. Each state change is logged once.
 */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  opened = 0;
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly log: Logger,
    /** Asks the store whether it answers; must settle on its own (bounded). */
    private readonly probe: () => Promise<unknown>,
    /** Times the cool-down. */
    private readonly clock: Clock,
  ) {}

  /** Whether a call may go to the store now: only while closed. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open' && this.clock.now() >= this.openUntil) {
      this.state = 'half-open';
      this.probe().then(() => this.success(), (err: unknown) => this.failure(err));
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.log.info('cache store reachable again; caching resumes');
    }
  }

  failure(err: unknown): void {
    this.failures++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.options.failureThreshold)) {
      if (this.state === 'closed') {
        this.opened++;
        this.log.warn('cache store failing; serving without cache', { err: err instanceof Error ? err.message : String(err), cooldown_ms: this.options.cooldownMs });
      }
      this.state = 'open';
      this.openUntil = this.clock.now() + this.options.cooldownMs;
    }
  }
}

/** Monotonic counters of what the cache did; `cache.counters()` returns a copy for /metrics. */
export interface CacheCounters {
  hits: number;
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
  /** Store calls that failed or timed out. */
  storeErrors: number;
  /** Times the circuit opened. */
  circuitOpened: number;
}

export function zeroCounters(): CacheCounters {
  return {
    hits: 0, misses: 0, stale: 0, staleIfError: 0, bypasses: 0, notModified: 0, stores: 0, storesSkipped: 0,
    coalesced: 0, refreshes: 0, invalidations: 0, storeErrors: 0, circuitOpened: 0,
  };
}
