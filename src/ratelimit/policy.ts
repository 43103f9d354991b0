// A rate-limit policy as a route declares it (quota per window, burst), and as a store computes with it:
// GCRA's emission interval and burst tolerance, in microseconds, fixed once at declaration.

export interface RateLimitPolicy {
  /** Names the budget: routes listing a policy of the same name (and partition) spend the same budget. Sent
   *  in the RateLimit headers and the 429 answer. */
  name: string;
  /** Units allowed per window, sustained: one unit every `windowS / quota` seconds. */
  quota: number;
  windowS: number;
  /** Units that may be spent at once by a client that has been quiet (default `quota`). */
  burst?: number;
}

/** What a store checks: a request of cost c conforms while `tat + c·intervalUs − now ≤ toleranceUs`. */
export interface GcraPolicy {
  readonly name: string;
  readonly quota: number;
  readonly windowS: number;
  readonly burst: number;
  /** Microseconds one unit occupies: windowS · 10⁶ / quota. */
  readonly intervalUs: number;
  /** burst · intervalUs: how far ahead of now the theoretical arrival time may run. */
  readonly toleranceUs: number;
}

/** A token in the RateLimit headers' structured fields and a safe part of a Redis key. */
const POLICY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function compilePolicy(policy: RateLimitPolicy): GcraPolicy {
  const { name, quota, windowS } = policy;
  const burst = policy.burst ?? quota;
  if (!POLICY_NAME.test(name)) throw new TypeError(`rate-limit policy name "${name}" must match ${POLICY_NAME}`);
  if (!Number.isInteger(quota) || quota < 1) throw new TypeError(`rate-limit policy ${name}: quota must be a positive integer`);
  if (!Number.isInteger(windowS) || windowS < 1) throw new TypeError(`rate-limit policy ${name}: windowS must be a positive integer (the RateLimit-Policy header says whole seconds)`);
  if (!Number.isInteger(burst) || burst < 1) throw new TypeError(`rate-limit policy ${name}: burst must be a positive integer`);
  // The clocks count microseconds: a finer interval would round to nothing in the timestamps.
  if (quota > windowS * 1e6) throw new TypeError(`rate-limit policy ${name}: at most one unit per microsecond (quota ≤ windowS · 10⁶)`);
  const intervalUs = (windowS * 1e6) / quota;
  return Object.freeze({ name, quota, windowS, burst, intervalUs, toleranceUs: burst * intervalUs });
}

/** Two declarations of one policy name must agree: they spend one budget. */
export function samePolicy(a: GcraPolicy, b: GcraPolicy): boolean {
  return a.quota === b.quota && a.windowS === b.windowS && a.burst === b.burst;
}
