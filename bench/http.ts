// `npm run bench:http`: raw node:http, Fastify 5 and skiff serve the same two routes, loaded the same way in
// interleaved rounds; prints req/s and p99 per server and, last, a JSON line of median per-round ratios.
import { load, loadTool, median, pinSelf, pinning, round2, startTarget, type Sample, type Target } from './load.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const durationS = Number(process.env.BENCH_DURATION_S ?? 4);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const targets: Target[] = [
  { name: 'raw', entry: './servers/raw.ts' },
  { name: 'fastify', entry: './servers/fastify.ts' },
  { name: 'skiff', entry: './servers/skiff.ts' },
];
const routes = [
  { name: 'hello', path: '/hello' },
  { name: 'item', path: '/items/42' },
];

pinSelf();
console.log(`# bench:http — ${rounds} rounds × ${durationS}s, ${connections} connections, ${loadTool}; ${pinning}; Node ${process.version}`);
const running = await Promise.all(targets.map(startTarget));
const samples = new Map<string, Sample[]>();
try {
  for (const r of running) for (const route of routes) await load(r.url + route.path, { connections, durationS: 1 }); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const route of routes) {
      for (let i = 0; i < running.length; i++) {
        const sample = await load(running[i].url + route.path, { connections, durationS });
        if (sample.errors > 0) throw new Error(`${targets[i].name} ${route.path}: ${sample.errors} errors`);
        const key = `${targets[i].name}:${route.name}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  await Promise.all(running.map((r) => r.stop()));
}

const get = (t: string, r: string) => samples.get(`${t}:${r}`)!;
console.log('\n| route | server | req/s (median) | p99 ms (median) |\n|---|---|---|---|');
for (const route of routes) {
  for (const t of targets) {
    const s = get(t.name, route.name);
    console.log(`| ${route.path} | ${t.name} | ${Math.round(median(s.map((x) => x.rps)))} | ${round2(median(s.map((x) => x.p99)))} |`);
  }
}
const ratio = (a: string, b: string, route: string) => round2(median(get(a, route).map((s, i) => s.rps / get(b, route)[i].rps)));
console.log(JSON.stringify({
  skiff_vs_fastify_hello: ratio('skiff', 'fastify', 'hello'),
  skiff_vs_raw_hello: ratio('skiff', 'raw', 'hello'),
  skiff_vs_fastify_item: ratio('skiff', 'fastify', 'item'),
  skiff_vs_raw_item: ratio('skiff', 'raw', 'item'),
}));
