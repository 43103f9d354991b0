// The in-memory backend, for one process: the same GCRA as spend-n.lua over a Map of theoretical arrival
// times, bounded in size (a key whose TAT has passed is the same as no key, so those go first).
import type { GcraPolicy } from './policy.ts';
import type { RateLimitStore, Verdict } from './store.ts';

export interface MemoryRateLimitStoreOptions {
  /** Keys kept at most (default 100 000); past it, lapsed keys are swept, then the least recently spent go. */
  maxKeys?: number;
  /** The clock, epoch µs (default this process's). */
  nowUs?: () => number;
}

const processClockUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const maxKeys = options.maxKeys ?? 100_000;
  const nowUs = options.nowUs ?? processClockUs;
  // Insertion order is spend order: re-inserting on every spend puts the least recently spent first.
  const tats = new Map<string, number>();

  function evict(now: number): void {
    for (const [key, tat] of tats) if (tat <= now) tats.delete(key);
    for (const key of tats.keys()) {
      if (tats.size < maxKeys) break;
      tats.delete(key);
    }
  }

  return {
    kind: 'memory',
    async spend(partition, policies: readonly GcraPolicy[], cost) {
      const now = nowUs();
      const keys = policies.map((p) => `${partition}\0${p.name}`);
      const starts = keys.map((key) => Math.max(tats.get(key) ?? 0, now));
      let violated = -1;
      let retryUs = 0;
      policies.forEach((p, i) => {
        const over = starts[i] + cost * p.intervalUs - now - p.toleranceUs;
        if (over > retryUs) {
          retryUs = over;
          violated = i;
        }
      });
      const allowed = violated === -1;
      const remaining: number[] = [];
      const resetUs: number[] = [];
      policies.forEach((p, i) => {
        let tat = starts[i];
        if (allowed && cost > 0) {
          tat += cost * p.intervalUs;
          tats.delete(keys[i]);
          if (tats.size >= maxKeys) evict(now);
          tats.set(keys[i], tat);
        }
        remaining.push(Math.max(0, Math.floor((p.toleranceUs - (tat - now)) / p.intervalUs)));
        resetUs.push(Math.ceil(tat - now));
      });
      const verdict: Verdict = { allowed, violated, retryUs: Math.ceil(retryUs), remaining, resetUs, at: Math.floor(now / 1000) };
      return verdict;
    },
    async ping() {},
  };
}
