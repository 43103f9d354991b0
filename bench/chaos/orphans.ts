// kill -9 of a queue worker holding jobs, under open-loop export load. The supervisor replaces the worker at once;
// what is measured is how long each orphaned job (in progress on the dead worker) waits before it runs again —
// the promise is lease + 2 s — and, once everything settled, whether any acknowledged job was lost or stuck.
import http from 'node:http';
import { API_KEY, type Stack } from './stack.ts';
import { jobReader, jobRecords, seedItems, settleJobs, type JobFate } from './inspect.ts';
import { maxOf, openLoop, round1, send, sleep, until, type Call, type Outcome } from './load.ts';

export interface OrphansOptions {
  /** Catalogue size: each export walks it all, which sets how long a job runs. */
  items: number;
  /** Background exports per second. */
  exportsPerS: number;
  /** Exports sent at once before each kill, so the victim holds many jobs. */
  burst: number;
  /** Workers killed, one after the other (a replacement may be the next victim). */
  kills: number;
  /** Between kills: shorter than lease/2, the restart pattern that used to stall orphans. */
  killEveryMs: number;
  /** A kill waits until its victim holds this many jobs (or takes the busiest worker after a while). */
  minOrphans: number;
}

export interface OrphansResult {
  kills: number;
  orphans: number;
  /** Orphans that never ran again before the wait ended. */
  unrecovered: number;
  /** Longest wait from a kill to the next attempt of one of its orphans, seconds (the wait so far for unrecovered ones). */
  recoveryMaxS: number;
  leaseMs: number;
  jobs: JobFate;
  enqueued: number;
}

const exportCall = (): Call => ({ method: 'POST', path: '/v1/exports', body: { format: 'csv' }, headers: { 'x-api-key': API_KEY } });
const acceptedIds = (outcomes: Outcome[]) =>
  outcomes.filter((o) => o.status === 202).map((o) => (JSON.parse(o.text) as { id: string }).id);

/** PID of a consumer named host-pid (workers without WORKER_ID). */
const consumerPid = (worker: string | null) => Number(worker?.slice(worker.lastIndexOf('-') + 1));

export async function orphansScenario(stack: Stack, options: OrphansOptions): Promise<OrphansResult> {
  const workers = stack.workers;
  if (!workers) throw new Error('the orphans scenario needs queue workers');
  await seedItems(stack.redis.client, options.items, 'orphans');
  const queue = jobReader(stack.redis.client);
  const load = openLoop(stack.url, [{ name: 'export', ratePerS: options.exportsPerS, next: exportCall }]);
  const burstAgent = new http.Agent({ keepAlive: true });
  const bursts: Outcome[] = [];
  const orphans: { id: string; attempt: number; killedAt: number; recoveredAt?: number }[] = [];
  let kills = 0;
  try {
    for (let k = 0; k < options.kills; k++) {
      if (k > 0) await sleep(options.killEveryMs);
      const sent = await Promise.all(Array.from({ length: options.burst }, () => send(stack.url, burstAgent, exportCall(), 'burst')));
      bursts.push(...sent);
      const ids = [...acceptedIds(load.outcomes), ...acceptedIds(bursts)];
      // The busiest live worker, once it holds enough jobs (or whatever it holds after 15 s).
      let victim = 0;
      const holding = async () => {
        const counts = new Map<number, number>();
        for (const r of (await jobRecords(queue, ids)).values()) {
          if (r?.status === 'in_progress') counts.set(consumerPid(r.worker), (counts.get(consumerPid(r.worker)) ?? 0) + 1);
        }
        const live = workers.workerPids().map((pid) => [pid, counts.get(pid) ?? 0] as const).sort((a, b) => b[1] - a[1]);
        victim = live[0]?.[1] ? live[0][0] : 0;
        return (live[0]?.[1] ?? 0) >= options.minOrphans;
      };
      await until(holding, 15_000, 50);
      if (victim === 0) continue;
      const linesBefore = workers.lines.length;
      process.kill(victim, 'SIGKILL');
      const killedAt = Date.now();
      kills++;
      // What the dead worker held: its records can no longer change.
      await sleep(50);
      for (const r of (await jobRecords(queue, ids)).values()) {
        if (r?.status === 'in_progress' && consumerPid(r.worker) === victim) orphans.push({ id: r.id, attempt: r.attempt, killedAt });
      }
      // The next kill picks among live workers, the replacement included.
      if (k + 1 < options.kills) {
        await workers.waitFor((l) => l.msg === 'worker ready' && l.pid !== victim, 60_000, 'replacement worker ready', linesBefore).catch(() => {});
      }
    }
  } finally {
    await load.stop();
    burstAgent.destroy();
  }
  // Watch the orphans: each is recovered when a newer attempt has started.
  const watchMs = stack.leaseMs * 2 + 10_000;
  const watchUntil = Date.now() + watchMs;
  while (Date.now() < watchUntil && orphans.some((o) => o.recoveredAt === undefined)) {
    const pending = orphans.filter((o) => o.recoveredAt === undefined);
    const records = await jobRecords(queue, pending.map((o) => o.id));
    const now = Date.now();
    for (const o of pending) {
      const r = records.get(o.id) ?? null;
      if (r && r.attempt > o.attempt) o.recoveredAt = r.startedAt !== null && r.startedAt > o.killedAt ? r.startedAt : now;
      // A job that ended without a new attempt (aborted, or failed past max_tries when reclaimed) was handled too.
      else if (r === null || (r.status !== 'in_progress' && r.attempt === o.attempt)) o.recoveredAt = r?.finishedAt ?? now;
    }
    await sleep(100);
  }
  const now = Date.now();
  const ids = [...acceptedIds(load.outcomes), ...acceptedIds(bursts)];
  const jobs = await settleJobs(queue, ids, Math.max(10_000, watchUntil - now));
  return {
    kills,
    orphans: orphans.length,
    unrecovered: orphans.filter((o) => o.recoveredAt === undefined).length,
    recoveryMaxS: round1(maxOf(orphans.map((o) => ((o.recoveredAt ?? now) - o.killedAt) / 1000))),
    leaseMs: stack.leaseMs,
    jobs,
    enqueued: ids.length,
  };
}
