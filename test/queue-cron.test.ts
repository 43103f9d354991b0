// Cron scheduling on a fake clock: ticks months and a year away never fire early and never spin. The fake timers
// behave like Node's: a delay past 2^31 − 1 ms fires after 1 ms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TIMER_MS, parseCron, scheduleCron, type CronClock } from '../src/queue/index.ts';

interface FakeClock extends CronClock {
  /** Every delay a timer was armed with. */
  readonly armed: number[];
  /** Moves the clock to `until`, running the timers that come due on the way, in order. */
  advance(until: number): void;
}

function fakeClock(start: number): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fire: () => void }>();
  const armed: number[] = [];
  return {
    armed,
    now: () => now,
    setTimeout(fire, ms) {
      armed.push(ms);
      const id = ++seq;
      timers.set(id, { at: now + (ms > MAX_TIMER_MS ? 1 : Math.max(1, ms)), fire });
      return id;
    },
    clearTimeout: (id) => void timers.delete(id as number),
    advance(until) {
      // Bounded, so a scheduler that spins fails the test instead of hanging it.
      for (let steps = 0; steps < 10_000; steps++) {
        const next = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (next === undefined || next[1].at > until) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fire();
      }
      now = until;
    },
  };
}

/** Runs `expression` from `start` to `end` on a fake clock; returns the ticks fired, with the clock at each. */
function run(expression: string, start: number, end: number) {
  const clock = fakeClock(start);
  const fired: { tick: number; at: number }[] = [];
  const stop = scheduleCron(parseCron(expression), (tick) => fired.push({ tick, at: clock.now() }), clock);
  clock.advance(end);
  stop();
  return { fired, armed: clock.armed };
}

test('a monthly schedule 31 days away fires at its instant, not before, with two timer steps', () => {
  const start = Date.UTC(2026, 0, 1, 0, 0, 1);
  const { fired, armed } = run('0 0 1 * *', start, Date.UTC(2026, 2, 1, 0, 0, 0));
  assert.deepEqual(fired, [
    { tick: Date.UTC(2026, 1, 1), at: Date.UTC(2026, 1, 1) },
    { tick: Date.UTC(2026, 2, 1), at: Date.UTC(2026, 2, 1) },
  ]);
  assert.ok(armed.every((ms) => ms > 0 && ms <= MAX_TIMER_MS), `every delay fits a timer: ${armed.join(', ')}`);
  // 31 days (January) and 28 (February) each take two steps of at most 24.8 days, then the wait for April
  // begins: no spin.
  assert.equal(armed.length, 5, `timer arms: ${armed.join(', ')}`);
});

test('a yearly schedule fires once, on New Year, after about fifteen timer steps', () => {
  const start = Date.UTC(2026, 0, 1, 0, 0, 1);
  const { fired, armed } = run('0 0 1 1 *', start, Date.UTC(2027, 11, 31));
  assert.deepEqual(fired, [{ tick: Date.UTC(2027, 0, 1), at: Date.UTC(2027, 0, 1) }]);
  assert.ok(armed.every((ms) => ms > 0 && ms <= MAX_TIMER_MS));
  // 365 days to the tick, then 364 towards the next one: ceil(365 / 24.86) + ceil(364 / 24.86) arms.
  assert.equal(armed.length, 15 + 15, `timer arms: ${armed.length}`);
});

test('a timer that fires early is re-armed for the rest, and a stopped schedule never fires', () => {
  const start = Date.UTC(2026, 5, 30, 23, 59, 58);
  const clock = fakeClock(start);
  const fired: number[] = [];
  const early: CronClock = { ...clock, setTimeout: (fire, ms) => clock.setTimeout(fire, ms > 5 ? ms - 5 : ms) };
  const stop = scheduleCron(parseCron('0 0 1 * *'), (tick) => fired.push(clock.now() - tick), early);
  clock.advance(Date.UTC(2026, 6, 1, 0, 0, 1));
  assert.deepEqual(fired, [0], 'fired at the tick, not 5 ms before');
  stop();
  clock.advance(Date.UTC(2026, 8, 1, 0, 0, 1));
  assert.deepEqual(fired, [0]);
});
