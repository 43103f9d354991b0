// npm run chaos: fault scenarios against the example service on this machine (its own redis-server with AOF on a
// free port, the API supervisor with its HTTP workers, queue workers; loopback only). Prints a table, then as its
// last line one JSON object of the figures (see README "Reliability").
//
//   npm run chaos                          the full suite (a few minutes)
//   npm run chaos -- --quick               the small versions npm test runs (3 s lease, short faults)
//   npm run chaos -- --only=hang,orphans   some scenarios: reload, hang, restart, orphans, sigterm
//   npm run chaos -- --rate-scale=2        twice the request rate in the Redis fault scenarios
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { cleanUpOnSignals } from './chaos/stack.ts';
import { FULL_PLAN, SCENARIOS, SMALL_PLAN, runChaos, summary, table, type ScenarioName } from './chaos/suite.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'rate-scale': { type: 'string' },
  },
});

const only = new Set((values.only?.split(',') ?? SCENARIOS) as ScenarioName[]);
for (const name of only) {
  if (!SCENARIOS.includes(name)) {
    process.stderr.write(`chaos: unknown scenario "${name}"; one of ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
}
const base = values.quick ? SMALL_PLAN : FULL_PLAN;
const rateScale = Number(values['rate-scale'] ?? 1);
const plan = {
  ...base,
  hang: { ...base.hang, rateScale: base.hang.rateScale * rateScale },
  restart: { ...base.restart, rateScale: base.restart.rateScale * rateScale },
};

cleanUpOnSignals();
const t0 = Date.now();
const log = (msg: string) => process.stderr.write(`chaos [${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);
log(`${values.quick ? 'small' : 'full'} suite on ${cpus().length} CPUs, Node ${process.version}: ${[...only].join(', ')}`);
try {
  const figures = await runChaos(plan, only, log);
  process.stdout.write(`\n${table(figures)}\n\n${JSON.stringify(summary(figures))}\n`);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
