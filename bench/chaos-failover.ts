// npm run chaos:failover: a Redis failover under load, on a 3-master / 3-replica cluster (the master holding the
// queue's slot is killed) and on a master + replica + 3 Sentinels (the master is killed), the killed node started
// again 5 s later (empty: it rejoins as a replica, as under a supervisor that restarts it), each with
// QUEUE_WAIT_REPLICAS=0 and =1, every run on fresh servers. Prints a table, then as its last line one JSON object
// (see docs/SCALING.md "Failover").
//
//   npm run chaos:failover                        both topologies, both settings (a few minutes)
//   npm run chaos:failover -- --only=sentinel     one topology
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { failoverScenario, type FailoverResult, type Topology } from './chaos/failover.ts';
import { cleanUpOnSignals } from './chaos/stack.ts';

const { values } = parseArgs({ options: { only: { type: 'string' }, 'rate-scale': { type: 'string' } } });
const topologies = (values.only?.split(',') ?? ['cluster', 'sentinel']) as Topology[];
for (const t of topologies) {
  if (t !== 'cluster' && t !== 'sentinel') {
    process.stderr.write(`chaos:failover: unknown topology "${t}"; cluster or sentinel\n`);
    process.exit(2);
  }
}

cleanUpOnSignals();
const t0 = Date.now();
const log = (msg: string) => process.stderr.write(`chaos:failover [${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);
log(`on ${cpus().length} CPUs, Node ${process.version}: ${topologies.join(', ')}, QUEUE_WAIT_REPLICAS 0 and 1`);

const results: FailoverResult[] = [];
try {
  for (const topology of topologies) {
    for (const waitReplicas of [0, 1]) {
      results.push(await failoverScenario({
        topology, waitReplicas, calmMs: 3000, afterMs: 3000, recoverWithinMs: 60_000, restartAfterMs: 5000, rateScale: Number(values['rate-scale'] ?? 1),
        // One HTTP worker and two queue workers; a short lease so a job whose settle died with the master runs again
        // within the run.
        stack: { webConcurrency: 1, workerConcurrency: 2, leaseMs: 3000 },
      }, log));
      const r = results.at(-1)!;
      log(`${topology}, QUEUE_WAIT_REPLICAS=${waitReplicas}: recovery ${r.recoveryS} s, ${r.failed} failed, ${r.errors} errors, ${r.lost} lost of ${r.enqueued}, ${r.ranTwice} ran twice`);
    }
  }
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}

const rows = [['topology', 'QUEUE_WAIT_REPLICAS', 'requests', 'writes again after s', 'failed (5xx / none)', '5xx other than 503', 'enqueued (202)', 'enqueues 503 OUTCOME_UNKNOWN', 'jobs lost', 'jobs stuck', 'jobs run twice']];
for (const r of results) {
  rows.push([r.topology, String(r.waitReplicas), String(r.requests), r.recoveryS === null ? 'never' : String(r.recoveryS), String(r.failed), String(r.errors), String(r.enqueued), String(r.unknown503), String(r.lost), String(r.stuck), String(r.ranTwice)]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
const line = (row: string[]) => row.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
process.stdout.write(`\n${[line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')}\n`);
for (const r of results) {
  if (Object.keys(r.failures).length) process.stdout.write(`${r.topology} wait=${r.waitReplicas} failures: ${JSON.stringify(r.failures)}\n`);
}

const of = (topology: Topology, wait: number) => results.find((r) => r.topology === topology && r.waitReplicas === wait);
const figures = (topology: Topology) => {
  const off = of(topology, 0);
  const on = of(topology, 1);
  if (!off && !on) return null;
  return {
    recovery_s: { without_wait: off?.recoveryS ?? null, with_wait: on?.recoveryS ?? null },
    requests_failed: (off?.failed ?? 0) + (on?.failed ?? 0),
    errors_5xx_not_503: (off?.errors ?? 0) + (on?.errors ?? 0),
    jobs_lost: { without_wait: off?.lost ?? null, with_wait: on?.lost ?? null },
    jobs_run_twice: (off?.ranTwice ?? 0) + (on?.ranTwice ?? 0),
    jobs_enqueued: (off?.enqueued ?? 0) + (on?.enqueued ?? 0),
  };
};
process.stdout.write(`\n${JSON.stringify({
  cluster: figures('cluster'),
  sentinel: figures('sentinel'),
  errors_5xx_not_503: results.reduce((n, r) => n + r.errors, 0),
  date: new Date().toISOString(),
  loadavg_1m: Math.round(loadavg()[0] * 100) / 100,
})}\n`);
