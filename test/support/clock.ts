// A clock for tests: real time plus an offset the test moves forward, so timers and Redis still see time pass
// while a test jumps past a TTL or a cool-down instead of sleeping through it.
import type { Clock } from '../../src/clock.ts';

export interface TestClock extends Clock {
  /** Moves this clock `ms` ahead of real time (cumulative). */
  elapse(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    elapse: (ms) => void (offset += ms),
  };
}
