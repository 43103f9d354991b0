// Wall-clock time as the cache and the queue read it, injectable so that tests move time instead of sleeping
// (`createCache({ clock })`, `createQueue({ clock })`; cron schedules take a CronClock, which adds timers). It
// covers the decisions made in this process and the timestamps written for them: entry freshness, Age and stale
// windows, due times of deferred jobs and retries, cron ticks. Redis's own clock is not faked: key TTLs, stream
// entry ids and the deadline guards' TIME stay real.
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: Date.now };
