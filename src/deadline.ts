// One allowance of waiting per request: however many Redis calls a request makes (cache, store, queue), it waits
// on them at most `budgetMs` in total. The clock starts at the first call, each call is bounded by what is left,
// and once the allowance is spent calls fail at once. Created lazily (ctx.deadline), so a request that never
// waits on Redis pays nothing.

/**
 * The request's allowance ran out before the call answered. `applied: false` says the call certainly had no
 * effect (it was never sent, or a deadline guard refused it); otherwise a write may have been applied.
 */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(message: string, readonly applied?: false) {
    super(message);
  }
}

/**
 * Settles like `pending`, or rejects with `timeout()` after `ms`; `done` (if given) runs once either way. `pending`
 * keeps a handler, so its late failure is never unhandled. (Only inline closures here: this runs on every Redis
 * call, and tsx names every closure bound to a name, at a cost per call.)
 * The timeout is decided in the check phase after the timer fires, once the poll phase has read what the socket
 * holds: when the event loop stalled past the bound (a loaded machine), a reply that arrived meanwhile still wins,
 * rather than a write that was applied being answered as a timeout.
 */
export function settleWithin<T>(pending: Promise<T>, ms: number, timeout: () => Error, done?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let open = true;
    const timer = setTimeout(() => setImmediate(() => {
      if (!open) return;
      open = false;
      done?.();
      reject(timeout());
    }), ms);
    pending.then(
      (value) => {
        clearTimeout(timer);
        if (!open) return;
        open = false;
        done?.();
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!open) return;
        open = false;
        done?.();
        reject(err);
      },
    );
  });
}

const ignore = (): void => {};

/**
 * The allowance is spent only while the request waits (its clock runs while at least one bounded call is
 * pending, from the first call on), so a slow handler or a wait for another process's cache fill does not eat it:
 * what is bounded is the time spent waiting on Redis, which is what a hung Redis adds to a request.
 */
export class Deadline {
  private usedMs = 0;
  private waiting = 0;
  private since = 0;

  constructor(readonly budgetMs: number) {}

  /** Milliseconds of waiting left; the whole allowance before the first call. */
  remainingMs(): number {
    const used = this.waiting === 0 ? this.usedMs : this.usedMs + (Date.now() - this.since);
    return Math.max(0, this.budgetMs - used);
  }

  /** True once the allowance is spent: a call made now would fail at once. */
  get spent(): boolean {
    return this.remainingMs() === 0;
  }

  /**
   * Wall-clock epoch milliseconds by which a call sent now must have run, for a Lua write to compare with Redis
   * `TIME` and refuse once it has passed (src/redis/guard.ts).
   */
  get expiresAt(): number {
    return Date.now() + this.remainingMs();
  }

  /**
   * Waits for `pending` at most what is left (plus `graceMs`, for a guarded write whose reply may be in flight
   * when the deadline passes); then rejects with DeadlineExceededError, at once when nothing is left.
   */
  bound<T>(pending: Promise<T>, graceMs = 0): Promise<T> {
    const left = this.remainingMs();
    if (left === 0) {
      pending.catch(ignore);
      return Promise.reject(this.exceeded());
    }
    if (this.waiting++ === 0) this.since = Date.now();
    return settleWithin(pending, left + graceMs, () => this.exceeded(), () => this.settle());
  }

  private settle(): void {
    if (--this.waiting === 0) this.usedMs += Date.now() - this.since;
  }

  /** The error a call meets past the deadline; `applied: false` when the caller knows it had no effect. */
  exceeded(applied?: false): DeadlineExceededError {
    return new DeadlineExceededError(`no answer within the request's ${this.budgetMs} ms Redis deadline`, applied);
  }
}
