// What an operator reads while a Redis is unreachable: which Redis (password hidden) and the error, without a
// stack, at once and then again after 1, 2, 4 … 60 s while it lasts, not once per reconnect attempt.
import type { Logger } from '../log.ts';

const FIRST_REPEAT_MS = 1000;
const MAX_REPEAT_MS = 60_000;

export interface OutageLog {
  /** A failed connection attempt (or a lost connection). */
  down(err: unknown): void;
  /** Connected (again). */
  up(): void;
}

/** `where`: a Redis URL (its password is hidden here) or a topology's description (which names none). */
export function outageLog(log: Logger, where: string): OutageLog {
  const redis = /^rediss?:\/\//.test(where) ? withoutPassword(where) : where;
  let since = 0;
  let attempts = 0;
  let lastError = '';
  let repeatMs = FIRST_REPEAT_MS;
  let timer: NodeJS.Timeout | null = null;
  const downFor = () => Math.round((Date.now() - since) / 100) / 10;
  const report = () => {
    log.warn('redis unavailable; retrying with backoff', { redis, err: lastError, attempts, down_s: downFor() });
    timer = setTimeout(report, repeatMs);
    timer.unref();
    repeatMs = Math.min(repeatMs * 2, MAX_REPEAT_MS);
  };
  return {
    down(err) {
      attempts++;
      lastError = describe(err);
      if (since !== 0) return;
      since = Date.now();
      report();
    },
    up() {
      if (since === 0) return;
      if (timer) clearTimeout(timer);
      log.info('redis connection restored', { redis, down_s: downFor() });
      since = 0;
      attempts = 0;
      repeatMs = FIRST_REPEAT_MS;
    },
  };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Both loopback families refused: an AggregateError with an empty message and the code alone.
  return err.message || (err as NodeJS.ErrnoException).code || err.name;
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
