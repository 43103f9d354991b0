// SIGHUP to the API supervisor under open-loop keep-alive load: every HTTP worker is replaced one by one. The
// promise: no request fails (no connection reset, no 5xx) across the reload.
import { seedItems } from './inspect.ts';
import { openLoop, percentile, round1, sleep, type Outcome } from './load.ts';
import type { Stack } from './stack.ts';

export interface ReloadOptions {
  /** Requests per second, split between a probe and a cached read. */
  ratePerS: number;
  /** Load before the SIGHUP and after the reload completed. */
  calmMs: number;
}

export interface ReloadResult {
  requests: number;
  /** No answer, or a 5xx. */
  failed: number;
  /** What the failures were, most frequent first (at most five kinds). */
  failures: string[];
  reloadS: number;
  completed: boolean;
  p99Ms: number;
}

export async function reloadScenario(stack: Stack, options: ReloadOptions): Promise<ReloadResult> {
  const seed = await seedItems(stack.redis.client, 20, 'reload');
  const half = options.ratePerS / 2;
  const load = openLoop(stack.url, [
    { name: 'GET /healthz', ratePerS: half, next: () => ({ method: 'GET', path: '/healthz' }) },
    { name: 'GET /v1/items/{id}', ratePerS: half, next: (i) => ({ method: 'GET', path: `/v1/items/${seed[i % seed.length]}` }) },
  ]);
  let outcomes: Outcome[] = [];
  let reloadS = 0;
  let completed = false;
  try {
    await sleep(options.calmMs);
    const from = stack.api.lines.length;
    const t0 = Date.now();
    stack.api.signal('SIGHUP');
    const end = await stack.api.waitFor((l) => l.msg === 'reload complete' || l.msg === 'reload aborted', 120_000, 'reload complete', from).catch(() => null);
    reloadS = (Date.now() - t0) / 1000;
    completed = end?.msg === 'reload complete';
    await sleep(options.calmMs);
  } finally {
    outcomes = await load.stop();
  }
  const failedOnes = outcomes.filter((o) => o.status === 0 || o.status >= 500);
  const kinds = new Map<string, number>();
  for (const o of failedOnes) {
    const kind = o.status === 0 ? (o.error ?? 'no answer') : `status ${o.status}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return {
    requests: outcomes.length,
    failed: failedOnes.length,
    failures: [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `${n}× ${k}`),
    reloadS: round1(reloadS),
    completed,
    p99Ms: Math.round(percentile(outcomes.map((o) => o.ms), 99)),
  };
}
