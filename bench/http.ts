// `npm run bench:http`: raw node:http, raw node:http sending skiff's headers (request id, nosniff, CSP: the
// like-for-like baseline), Fastify 5 and skiff serve the same two routes, loaded the same way in
// interleaved rounds; prints req/s, p99 and the server's CPU µs per request, and, last, a JSON line of median
// per-round ratios (CPU ratios: lower is better). BENCH_TOGETHER=1 loads every server at once in each round (one
// wrk each; servers share CPU 0), so each round compares them under the very same neighbours: the per-round
// CPU ratios then spread far less, while req/s is each server's share.
import { load, loadTool, median, medianRatio, pinSelf, pinning, round2, startTarget, type Sample, type Target } from './load.ts';
import { cpuMeter } from './support/cpu.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const durationS = Number(process.env.BENCH_DURATION_S ?? 4);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const together = process.env.BENCH_TOGETHER === '1';

const targets: Target[] = [
  { name: 'raw', entry: './servers/raw.ts' },
  { name: 'raw_headers', entry: './servers/raw.ts', env: { RAW_HEADERS: 'skiff' } },
  { name: 'fastify', entry: './servers/fastify.ts' },
  { name: 'skiff', entry: './servers/skiff.ts' },
];
const routes = [
  { name: 'hello', path: '/hello' },
  { name: 'item', path: '/items/42' },
];

pinSelf();
console.log(`# bench:http — ${rounds} rounds × ${durationS}s, ${connections} connections, ${loadTool}; ${pinning}; ${together ? 'servers loaded together' : 'servers loaded in turn'}; Node ${process.version}`);
const running = await Promise.all(targets.map(startTarget));
/** A round's load figures and the server's CPU µs per request in that round. */
const samples = new Map<string, (Sample & { cpuUs: number })[]>();
/** Loads server i on `route` while its CPU time is counted. */
async function measure(i: number, route: (typeof routes)[number]): Promise<void> {
  const cpu = cpuMeter([running[i].pid]);
  const sample = await load(running[i].url + route.path, { connections, durationS });
  const [cpuUs] = cpu.perUnit(sample.requests);
  if (sample.errors > 0) throw new Error(`${targets[i].name} ${route.path}: ${sample.errors} errors`);
  const key = `${targets[i].name}:${route.name}`;
  samples.set(key, [...(samples.get(key) ?? []), { ...sample, cpuUs }]);
}
try {
  for (const r of running) for (const route of routes) await load(r.url + route.path, { connections, durationS: 1 }); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const route of routes) {
      if (together) await Promise.all(running.map((_, i) => measure(i, route)));
      // Each round starts with the next server, so none always runs right after the same neighbour.
      else for (let k = 0; k < running.length; k++) await measure((k + round) % running.length, route);
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  await Promise.all(running.map((r) => r.stop()));
}

const get = (t: string, r: string) => samples.get(`${t}:${r}`)!;
console.log('\n| route | server | req/s (median) | p99 ms (median) | CPU µs/req (median) | CPU µs/req per round |\n|---|---|---|---|---|---|');
for (const route of routes) {
  for (const t of targets) {
    const s = get(t.name, route.name);
    const cpu = s.map((x) => x.cpuUs);
    console.log(`| ${route.path} | ${t.name} | ${Math.round(median(s.map((x) => x.rps)))} | ${round2(median(s.map((x) => x.p99)))} | ${round2(median(cpu))} | ${cpu.map(round2).join(' ')} |`);
  }
}
const ratio = (a: string, b: string, route: string, of: 'rps' | 'cpuUs') => medianRatio(get(a, route).map((s) => s[of]), get(b, route).map((s) => s[of]));
console.log(JSON.stringify({
  skiff_vs_fastify_hello: ratio('skiff', 'fastify', 'hello', 'rps'),
  skiff_vs_raw_hello: ratio('skiff', 'raw', 'hello', 'rps'),
  skiff_vs_fastify_item: ratio('skiff', 'fastify', 'item', 'rps'),
  skiff_vs_raw_item: ratio('skiff', 'raw', 'item', 'rps'),
  skiff_cpu_vs_raw_hello: ratio('skiff', 'raw', 'hello', 'cpuUs'),
  skiff_cpu_vs_raw_item: ratio('skiff', 'raw', 'item', 'cpuUs'),
  skiff_cpu_vs_fastify_hello: ratio('skiff', 'fastify', 'hello', 'cpuUs'),
  skiff_cpu_vs_fastify_item: ratio('skiff', 'fastify', 'item', 'cpuUs'),
  skiff_cpu_vs_raw_same_headers_hello: ratio('skiff', 'raw_headers', 'hello', 'cpuUs'),
  skiff_cpu_vs_raw_same_headers_item: ratio('skiff', 'raw_headers', 'item', 'cpuUs'),
  headers_cpu_vs_raw_hello: ratio('raw_headers', 'raw', 'hello', 'cpuUs'),
  headers_cpu_vs_raw_item: ratio('raw_headers', 'raw', 'item', 'cpuUs'),
}));
