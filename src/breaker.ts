// A circuit breaker in front of a backing store that a request may do without (the cache, the rate limiter):
// while the store fails, calls are refused at once, so a dead store costs a request nothing, and one background
// probe finds out when it is back.
import { systemClock, type Clock } from './clock.ts';
import type { Deadline } from './deadline.ts';
import type { Logger } from './log.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before one background probe is sent. */
  cooldownMs: number;
}

/** What the breaker logs when the circuit opens and when it closes again. */
export interface BreakerMessages {
  opened: string;
  closed: string;
}

/** What `guard` returns instead of throwing or hanging: the call failed, timed out, or was not made. */
export const UNAVAILABLE = Symbol('store unavailable');

/**
 * closed: calls go through; `failureThreshold` failures in a row open it. open: calls are refused at once (the
 * caller degrades: a cache bypass, a rate limit failing open or closed). Once `cooldownMs` has passed, the next
 * call asked for starts ONE probe in the background (half-open) and is itself refused, as are all calls while the
 * probe runs: no client request ever waits to find out whether the store is back. The probe's outcome closes or
 * re-opens the circuit. Each state change is logged once.
 */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  /** Times the circuit opened. */
  opened = 0;
  /** Guarded calls that failed or timed out. */
  errors = 0;
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly log: Logger,
    /** Asks the store whether it answers; must settle on its own (bounded). */
    private readonly probe: () => Promise<unknown>,
    private readonly messages: BreakerMessages,
    /** Times the cool-down. */
    private readonly clock: Clock = systemClock,
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
      this.log.info(this.messages.closed);
    }
  }

  failure(err: unknown): void {
    this.failures++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.options.failureThreshold)) {
      if (this.state === 'closed') {
        this.opened++;
        this.log.warn(this.messages.opened, { err: err instanceof Error ? err.message : String(err), cooldown_ms: this.options.cooldownMs });
      }
      this.state = 'open';
      this.openUntil = this.clock.now() + this.options.cooldownMs;
    }
  }

  /**
   * Runs a store call under the circuit and the request's Redis deadline: its value, or UNAVAILABLE (at once when
   * the circuit is open or the deadline spent; after what is left of the deadline at most).
   */
  async guard<T>(deadline: Deadline, call: () => Promise<T>): Promise<T | typeof UNAVAILABLE> {
    if (deadline.spent || !this.allow()) return UNAVAILABLE;
    try {
      const value = await deadline.bound(call());
      this.success();
      return value;
    } catch (err) {
      this.errors++;
      this.failure(err);
      return UNAVAILABLE;
    }
  }
}
