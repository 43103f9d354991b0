// What the interceptors of one cache share (built by createCache): the store behind its guard, the counters and
// the settings that are the cache's rather than a route's.
import { UNAVAILABLE } from '../breaker.ts';
import type { Clock } from '../clock.ts';
import type { Deadline } from '../deadline.ts';
import type { Logger } from '../log.ts';
import type { CacheCounters } from './counters.ts';
import type { CacheStore } from './store.ts';

/** What a guarded store call gives instead of throwing or hanging (the shared breaker's UNAVAILABLE). */
export const FAILED: typeof UNAVAILABLE = UNAVAILABLE;

export interface CacheRuntime {
  readonly store: CacheStore;
  readonly counters: CacheCounters;
  readonly cacheName: string;
  readonly maxBodyBytes: number;
  readonly lockTtlMs: number;
  readonly honorNoCache: boolean;
  readonly enabled: boolean;
  /** The time freshness, Age and the stale windows are judged by (createCache's `clock`). */
  readonly clock: Clock;
  /** Runs a store call under the circuit breaker and the request's Redis deadline; FAILED instead of throwing
   *  or hanging (and at once when the circuit is open or the deadline spent). */
  guarded<T>(deadline: Deadline, call: () => Promise<T>): Promise<T | typeof FAILED>;
  /** Replays invalidations that failed while the store was unreachable; false while some still fail. */
  settleInvalidations(deadline: Deadline): Promise<boolean>;
  /** Whether an invalidation waits to be replayed: nothing is served from the local tier until it is. */
  invalidationsPending(): boolean;
  readonly log: Logger;
}
