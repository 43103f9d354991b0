// Cron schedules for workers: standard 5-field expressions (minute hour day-of-month month day-of-week), or 6
// fields with seconds first; `*`, lists, ranges and steps; UTC. Each tick's job id derives from the tick, so a
// tick runs once however many workers schedule it. Timers wait in steps of at most MAX_TIMER_MS: setTimeout
// fires a longer delay after 1 ms, which made monthly and yearly schedules fire early and spin.
import type { Static, TSchema } from '@sinclair/typebox';
import { systemClock, type Clock } from '../clock.ts';
import type { JobDefinition } from './job.ts';

export interface CronSchedule {
  seconds: Set<number>;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Cron's rule: when both day fields are restricted, a day matching either counts. */
  dayOr: boolean;
}

export interface CronEntry<P extends TSchema = TSchema> {
  expression: string;
  schedule: CronSchedule;
  job: JobDefinition<P>;
  payload: Static<P>;
}

function parseField(field: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (m === null) throw new Error(`bad cron field "${field}"`);
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < min || hi > max || lo > hi || step < 1) throw new Error(`cron field "${field}" is out of range ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) throw new Error(`cron expression "${expression}" needs 5 or 6 fields`);
  const [sec, min, hour, dom, mon, dow] = fields.length === 6 ? fields : ['0', ...fields];
  const weekdays = parseField(dow, 0, 7);
  if (weekdays.has(7)) weekdays.add(0);
  return {
    seconds: parseField(sec, 0, 59),
    minutes: parseField(min, 0, 59),
    hours: parseField(hour, 0, 23),
    days: parseField(dom, 1, 31),
    months: parseField(mon, 1, 12),
    weekdays,
    dayOr: dom !== '*' && dow !== '*',
  };
}

/** The first tick strictly after `afterMs` (epoch ms, UTC), whole seconds. */
export function cronNext(s: CronSchedule, afterMs: number): number {
  const d = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  const limit = afterMs + 5 * 366 * 86_400_000;
  while (d.getTime() < limit) {
    if (!s.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0);
      continue;
    }
    const dayOk = s.dayOr
      ? s.days.has(d.getUTCDate()) || s.weekdays.has(d.getUTCDay())
      : s.days.has(d.getUTCDate()) && s.weekdays.has(d.getUTCDay());
    if (!dayOk) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0);
      continue;
    }
    if (!s.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0);
      continue;
    }
    if (!s.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0);
      continue;
    }
    if (!s.seconds.has(d.getUTCSeconds())) {
      d.setUTCSeconds(d.getUTCSeconds() + 1);
      continue;
    }
    return d.getTime();
  }
  throw new Error('cron expression never fires');
}

/** Longest delay setTimeout honours (2^31 − 1 ms, 24.8 days); Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Time and timers for a cron schedule; tests pass a fake one. */
export interface CronClock extends Clock {
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

/** Node's timers on `clock`'s time (a worker passes its queue's clock). */
export function cronClock(clock: Clock = systemClock): CronClock {
  return {
    now: () => clock.now(),
    setTimeout: (fire, ms) => setTimeout(fire, ms),
    clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  };
}

/**
 * Calls `fire(tick)` at each tick of the schedule, never before it: the wait is re-armed in steps of at most
 * MAX_TIMER_MS and checked against the clock when each step ends. Ticks missed while the process was away are
 * skipped (the next one counts from now). Returns a function that stops it.
 */
export function scheduleCron(schedule: CronSchedule, fire: (tick: number) => void, clock: CronClock = cronClock()): () => void {
  let timer: unknown;
  let stopped = false;
  const wait = (tick: number): void => {
    if (stopped) return;
    const left = tick - clock.now();
    if (left > 0) {
      timer = clock.setTimeout(() => wait(tick), Math.min(left, MAX_TIMER_MS));
      return;
    }
    fire(tick);
    wait(cronNext(schedule, Math.max(tick, clock.now())));
  };
  wait(cronNext(schedule, clock.now()));
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}

/** A periodic job for `startWorker({ cron: [...] })`; the payload is checked now, not at the first tick. */
export function cron<P extends TSchema>(expression: string, job: JobDefinition<P>, payload: Static<P>): CronEntry {
  return { expression, schedule: parseCron(expression), job: job as unknown as JobDefinition, payload: job.parse(payload) };
}
