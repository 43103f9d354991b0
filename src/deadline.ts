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

/** Settles like `pending`, or rejects with `timeout()` after `ms`; `pending` keeps a handler, so its late failure is never unhandled. */
export function settleWithin<T>(pending: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeout()), ms);
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const ignore = (): void => {};

export class Deadline {
  #expiresAt = 0;

  constructor(readonly budgetMs: number) {}

  /**
   * Wall-clock epoch milliseconds at which the allowance is spent (reading it starts the clock). Wall clock, not
   * monotonic: a Lua write compares it with Redis `TIME` and refuses once it has passed (src/redis/guard.ts).
   */
  get expiresAt(): number {
    if (this.#expiresAt === 0) this.#expiresAt = Date.now() + this.budgetMs;
    return this.#expiresAt;
  }

  /** Milliseconds left; the whole allowance before the first call. */
  remainingMs(): number {
    return this.#expiresAt === 0 ? this.budgetMs : Math.max(0, this.#expiresAt - Date.now());
  }

  /** True once the allowance is spent: a call made now would fail at once. */
  get spent(): boolean {
    return this.remainingMs() === 0;
  }

  /**
   * Waits for `pending` at most what is left (plus `graceMs`, for a guarded write whose reply may be in flight
   * when the deadline passes); then rejects with DeadlineExceededError, at once when nothing is left.
   */
  bound<T>(pending: Promise<T>, graceMs = 0): Promise<T> {
    const left = this.expiresAt - Date.now() + graceMs;
    if (left <= 0) {
      pending.catch(ignore);
      return Promise.reject(this.exceeded());
    }
    return settleWithin(pending, left, () => this.exceeded());
  }

  /** The error a call meets past the deadline; `applied: false` when the caller knows it had no effect. */
  exceeded(applied?: false): DeadlineExceededError {
    return new DeadlineExceededError(`no answer within the request's ${this.budgetMs} ms deadline`, applied);
  }
}
