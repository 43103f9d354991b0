// `npm run bench:ratelimit`: the same routes with and without a rate limit that never refuses (a page of items,
// and /hello), in one server process on one private Redis, loaded in interleaved rounds. Prints req/s, p99 and
// CPU µs per request (skiff and Redis) per route, the Redis commands per limited request (INFO commandstats
// around the limited rounds: the script's own TIME / GET / SET count too), and last a JSON line of median
// per-round ratios. Target: limited_vs_plain ≥ 0.85.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { startRedisServer } from '../src/redis/index.ts';
import { load, loadTool, median, medianRatio, pinSelf, pinning, printRouteTable, round2, startTarget, type ServedSample } from './load.ts';
import { cpuMeter } from './support/cpu.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const durationS = Number(process.env.BENCH_DURATION_S ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const routes = [
  { name: 'plain', path: '/plain/items/1', limited: false },
  { name: 'limited', path: '/limited/items/1', limited: true },
  { name: 'plain_hello', path: '/plain/hello', limited: false },
  { name: 'limited_hello', path: '/limited/hello', limited: true },
];

/** Calls per command since the server started, from INFO commandstats. */
async function commandCalls(info: () => Promise<string>): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [, name, n] of (await info()).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(name, Number(n));
  return calls;
}

pinSelf();
console.log(`# bench:ratelimit — ${rounds} rounds × ${durationS}s, ${connections} connections, ${loadTool}; ${pinning}; Redis on the load generator's CPU; Node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-redis-'));
const redis = await startRedisServer({ dir, appendonly: false });
const stats = createClient({ url: redis.url });
await stats.connect();
const info = () => stats.info('commandstats');
const server = await startTarget({ name: 'skiff-ratelimit', entry: './servers/skiff-ratelimit.ts', env: { REDIS_URL: redis.url } });
const samples = new Map<string, ServedSample[]>();
const commands = new Map<string, number>();
let limitedRequests = 0;
try {
  for (const route of routes) {
    const res = await fetch(server.url + route.path);
    await res.arrayBuffer();
    if (res.status !== 200 || (res.headers.get('ratelimit') !== null) !== route.limited) throw new Error(`${route.path}: ${res.status}, RateLimit ${res.headers.get('ratelimit')}`);
    await load(server.url + route.path, { connections, durationS: 1 }); // warm-up
  }
  for (let round = 0; round < rounds; round++) {
    for (const route of routes) {
      const before = route.limited ? await commandCalls(info) : null;
      const cpu = cpuMeter([server.pid, redis.process.pid!]);
      const sample = await load(server.url + route.path, { connections, durationS });
      const [appCpuUs, redisCpuUs] = cpu.perUnit(sample.requests);
      if (sample.errors > 0) throw new Error(`${route.path}: ${sample.errors} errors (a limit that never refuses refused?)`);
      if (before !== null) {
        for (const [name, n] of await commandCalls(info)) if (name !== 'info') commands.set(name, (commands.get(name) ?? 0) + n - (before.get(name) ?? 0));
        limitedRequests += sample.requests;
      }
      samples.set(route.name, [...(samples.get(route.name) ?? []), { ...sample, appCpuUs, redisCpuUs }]);
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  await server.stop();
  await stats.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

printRouteTable(routes, samples);
const perRequest = Object.fromEntries([...commands].sort().map(([name, n]) => [name, round2(n / limitedRequests)]));
console.log(`\nRedis commands per limited request (INFO commandstats, ${limitedRequests} requests): ${JSON.stringify(perRequest)}`);
const rps = (route: string) => samples.get(route)!.map((s) => s.rps);
const cpuOf = (route: string) => samples.get(route)!.map((s) => s.appCpuUs);
const median2 = (route: string) => round2(median(cpuOf(route)));
console.log(JSON.stringify({
  limited_vs_plain: medianRatio(rps('limited'), rps('plain')),
  limited_hello_vs_hello: medianRatio(rps('limited_hello'), rps('plain_hello')),
  redis_round_trips_per_request: round2((commands.get('evalsha') ?? 0) / limitedRequests),
  redis_commands_per_request: round2([...commands.values()].reduce((a, b) => a + b, 0) / limitedRequests),
  cpu_us_per_request_plain: median2('plain'),
  cpu_us_per_request_limited: median2('limited'),
  limited_cpu_vs_plain: medianRatio(cpuOf('limited'), cpuOf('plain')),
}));
