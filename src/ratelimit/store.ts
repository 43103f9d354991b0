// What the rate limiter needs from a backend: one atomic GCRA check of every policy of a route. Redis (shared
// by every process and host) and an in-memory map (one process) implement it;
// test/support/ratelimit-store-contract.ts holds the one suite both pass.
import type { GcraPolicy } from './policy.ts';

export interface Verdict {
  /** Every policy had room for the cost: it was spent from each. Otherwise nothing was spent. */
  allowed: boolean;
  /** Index of the policy that refused (the one that frees last); -1 when allowed. */
  violated: number;
  /** Microseconds until the refused request would conform; 0 when allowed. */
  retryUs: number;
  /** Per policy, after this request: units that may still be spent at once. */
  remaining: number[];
  /** Per policy: microseconds until the whole burst is available again (the budget is reset). */
  resetUs: number[];
  /** The store's clock at the decision, epoch ms: Redis TIME, or this process's clock. */
  at: number;
}

export interface RateLimitStore {
  readonly kind: 'redis' | 'memory';
  /** Spends `cost` units (0: only looks) from every policy of `partition`, or from none. */
  spend(partition: string, policies: readonly GcraPolicy[], cost: number): Promise<Verdict>;
  /** Resolves when the backend answers: the circuit breaker's probe. */
  ping(): Promise<void>;
}
