// The chaos suite: which scenarios run, at what scale, on one stack, and what they add up to — the table and the
// one-line JSON summary `npm run chaos` prints, and the figures test/chaos-small.test.ts asserts.
import { loadavg } from 'node:os';
import { orphansScenario, type OrphansOptions, type OrphansResult } from './orphans.ts';
import { redisFaultScenario, type RedisFaultOptions, type RedisFaultResult } from './redis-fault.ts';
import { reloadScenario, type ReloadOptions, type ReloadResult } from './reload.ts';
import { sigtermScenario, type SigtermResult } from './sigterm-sse.ts';
import { startStack, type StackOptions } from './stack.ts';

export const SCENARIOS = ['reload', 'hang', 'restart', 'orphans', 'sigterm'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ChaosPlan {
  stack: StackOptions;
  reload: ReloadOptions;
  hang: RedisFaultOptions;
  restart: RedisFaultOptions;
  orphans: OrphansOptions;
}

/** `npm run chaos`: the service's defaults (bound, lease), faults long enough to matter; a few minutes. */
export const FULL_PLAN: ChaosPlan = {
  stack: { webConcurrency: 2, workerConcurrency: 2 },
  reload: { ratePerS: 100, calmMs: 3000 },
  hang: { fault: 'hang', faultMs: 5000, calmMs: 3000, rateScale: 1, retryForMs: 20_000 },
  restart: { fault: 'restart', faultMs: 3000, calmMs: 3000, rateScale: 1, retryForMs: 20_000 },
  orphans: { items: 1000, exportsPerS: 5, burst: 60, kills: 2, killEveryMs: 5000, minOrphans: 10 },
};

/**
 * `npm run chaos -- --quick` and `npm test`: the same scenarios, small, with one HTTP worker and a 3 s lease. The
 * Redis bound is 1.5 s and the hang lasts longer than twice that, so a request that waits the bound twice stands
 * out from a loaded machine's lateness.
 */
export const SMALL_PLAN: ChaosPlan = {
  stack: { webConcurrency: 1, workerConcurrency: 2, leaseMs: 3000, redisBoundMs: 1500 },
  reload: { ratePerS: 40, calmMs: 1000 },
  hang: { fault: 'hang', faultMs: 3500, calmMs: 1000, rateScale: 0.5, retryForMs: 10_000 },
  restart: { fault: 'restart', faultMs: 1000, calmMs: 1000, rateScale: 0.5, retryForMs: 10_000 },
  orphans: { items: 300, exportsPerS: 3, burst: 30, kills: 1, killEveryMs: 1000, minOrphans: 3 },
};

export interface ChaosFigures {
  boundMs: number;
  leaseMs: number;
  reload?: ReloadResult;
  hang?: RedisFaultResult;
  restart?: RedisFaultResult;
  orphans?: OrphansResult;
  sigterm?: SigtermResult;
}

/** Rejects when `work` takes longer than `ms`: every scenario is bounded, a hung one fails the run. */
function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the chosen scenarios in order on one stack (reload first, on fresh workers; sigterm last: it ends the API). */
export async function runChaos(plan: ChaosPlan, only: ReadonlySet<ScenarioName> = new Set(SCENARIOS), progress: (msg: string) => void = () => {}): Promise<ChaosFigures> {
  progress('starting redis-server (AOF), the API supervisor and the queue workers');
  const stack = await startStack(plan.stack);
  const figures: ChaosFigures = { boundMs: stack.boundMs, leaseMs: stack.leaseMs };
  const faultBudget = (o: RedisFaultOptions) => 2 * o.calmMs + o.faultMs + o.retryForMs + 90_000;
  const o = plan.orphans;
  try {
    const run = async <K extends ScenarioName>(name: K, budgetMs: number, scenario: () => Promise<NonNullable<ChaosFigures[K]>>) => {
      if (!only.has(name)) return;
      progress(`${name} …`);
      const t0 = Date.now();
      (figures as unknown as Record<string, unknown>)[name] = await bounded(scenario(), budgetMs, name);
      progress(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    };
    await run('reload', 2 * plan.reload.calmMs + 150_000, () => reloadScenario(stack, plan.reload));
    await run('hang', faultBudget(plan.hang), () => redisFaultScenario(stack, plan.hang));
    await run('restart', faultBudget(plan.restart), () => redisFaultScenario(stack, plan.restart));
    await run('orphans', o.kills * (o.killEveryMs + 90_000) + 3 * stack.leaseMs + 60_000, () => orphansScenario(stack, o));
    await run('sigterm', 90_000, () => sigtermScenario(stack));
    return figures;
  } finally {
    await stack.stop();
  }
}

const sum = (...xs: (number | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/** The one-line JSON: the issue's keys (null when that scenario did not run), with the bound and lease to judge them by. */
export function summary(f: ChaosFigures): Record<string, unknown> {
  const faults = [f.hang, f.restart].filter((r) => r !== undefined);
  const jobs = [f.hang?.jobs, f.restart?.jobs, f.orphans?.jobs].filter((j) => j !== undefined);
  return {
    jobs_lost: jobs.length ? sum(...jobs.map((j) => j.lost)) : null,
    jobs_stuck: jobs.length ? sum(...jobs.map((j) => j.stuck)) : null,
    orphan_recovery_s: f.orphans && f.orphans.orphans > 0 ? f.orphans.recoveryMaxS : null,
    lease_ms: f.leaseMs,
    max_wait_ms_redis_hung: f.hang?.maxWaitMsDuring ?? null,
    p99_wait_ms_redis_hung: f.hang?.p99MsDuring ?? null,
    redis_bound_ms: f.boundMs,
    applied_after_503: faults.length
      ? { without_key: sum(...faults.map((r) => r.appliedAfter503.withoutKey)), with_key: sum(...faults.map((r) => r.appliedAfter503.withKey)) }
      : null,
    duplicates_after_retry: faults.length ? sum(...faults.map((r) => r.duplicatesAfterRetry)) : null,
    failed_requests_reload: f.reload?.failed ?? null,
    sigterm_exit_s_with_sse: f.sigterm?.exitS ?? null,
    // Context for reading the figures above.
    writes_503: faults.length ? { without_key: sum(...faults.map((r) => r.writes503.withoutKey)), with_key: sum(...faults.map((r) => r.writes503.withKey)) } : null,
    max_wait_ms_redis_restart: f.restart?.maxWaitMsDuring ?? null,
    orphans: f.orphans?.orphans ?? null,
    date: new Date().toISOString(),
    loadavg_1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

interface Row {
  scenario: string;
  figure: string;
  value: string;
  target: string;
  /** null: no target, information only. */
  ok: boolean | null;
}

/** The human-readable table: one row per figure, with its target where the issue sets one. */
export function table(f: ChaosFigures): string {
  const rows: Row[] = [];
  const row = (scenario: string, figure: string, value: unknown, target = '', ok: boolean | null = null) =>
    rows.push({ scenario, figure, value: typeof value === 'string' ? value : JSON.stringify(value), target, ok });
  if (f.reload) {
    const r = f.reload;
    row('reload (SIGHUP)', 'failed requests', r.failed, '0', r.failed === 0);
    row('reload (SIGHUP)', 'requests / p99 ms', `${r.requests} / ${r.p99Ms}`);
    row('reload (SIGHUP)', 'reload took s', r.completed ? r.reloadS : `${r.reloadS} (not completed)`);
    if (r.failures.length) row('reload (SIGHUP)', 'failures', r.failures.join(', '));
  }
  for (const r of [f.hang, f.restart]) {
    if (!r) continue;
    const name = r.fault === 'hang' ? `redis SIGSTOP ${r.faultMs / 1000} s` : `redis restart (${r.faultMs / 1000} s down)`;
    const waitTarget = r.fault === 'hang' ? `≤ ${r.boundMs + 100}` : '';
    row(name, 'max wait ms (sent during fault)', `${r.maxWaitMsDuring} (${r.slowestRoute}); p99 ${r.p99MsDuring}`, waitTarget, r.fault === 'hang' ? r.maxWaitMsDuring <= r.boundMs + 100 : null);
    for (const [route, fig] of Object.entries(r.routes)) {
      const applied = fig.applied503 ? `; ${fig.applied503} applied after 503` : '';
      if (fig.during > 0) row(name, `  ${route}`, `max ${fig.maxMsDuring} ms; ${Object.entries(fig.statuses).map(([s, n]) => `${n}×${s}`).join(' ')}${applied}`);
    }
    row(name, 'writes answered 503 (no key / key)', `${r.writes503.withoutKey} / ${r.writes503.withKey}`);
    row(name, 'of which applied, no key', r.appliedAfter503.withoutKey, '0', r.appliedAfter503.withoutKey === 0);
    row(name, 'of which applied, with key', r.appliedAfter503.withKey, 'retry safe');
    row(name, 'duplicates after keyed retries', r.duplicatesAfterRetry, '0', r.duplicatesAfterRetry === 0);
    if (r.retriesUnanswered) row(name, 'retries never answered', r.retriesUnanswered);
    row(name, 'other 5xx / no answer', r.errors, '0', r.errors === 0);
    row(name, 'jobs lost / stuck (of acknowledged)', `${r.jobs.lost} / ${r.jobs.stuck} (of ${r.jobs.lost + r.jobs.stuck + r.jobs.complete + r.jobs.failed})`, '0 / 0', r.jobs.lost + r.jobs.stuck === 0);
  }
  if (f.orphans) {
    const o = f.orphans;
    row('worker kill -9', 'kills / orphaned jobs', `${o.kills} / ${o.orphans}`);
    const target = o.leaseMs / 1000 + 2;
    row('worker kill -9', 'orphan recovery max s', o.unrecovered ? `${o.recoveryMaxS}+ (${o.unrecovered} never ran again)` : o.recoveryMaxS, `≤ ${target}`, o.orphans > 0 ? o.recoveryMaxS <= target && o.unrecovered === 0 : null);
    row('worker kill -9', 'jobs lost / stuck (of acknowledged)', `${o.jobs.lost} / ${o.jobs.stuck} (of ${o.enqueued})`, '0 / 0', o.jobs.lost + o.jobs.stuck === 0);
  }
  if (f.sigterm) {
    const s = f.sigterm;
    row('SIGTERM with open SSE', 'exit s', s.exitS, '≤ 2', s.exitS <= 2);
    row('SIGTERM with open SSE', 'exit code', s.exitCode);
    row('SIGTERM with open SSE', 'stream closed after s', s.streamClosedS ?? 'never');
    row('SIGTERM with open SSE', 'events after SIGTERM', s.eventsAfterSigterm.length ? s.eventsAfterSigterm.join(', ') : 'none');
  }
  const header: Row = { scenario: 'scenario', figure: 'figure', value: 'value', target: 'target', ok: null };
  const cols = (r: Row) => [r.scenario, r.figure, r.value, r.target, r.ok === null ? '' : r.ok ? 'ok' : 'MISS'];
  const all = [header, ...rows].map(cols);
  const widths = all[0].map((_, i) => Math.max(...all.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}
