// `npm run bench:cache`: skiff's /hello, a cached route on hits, the same handler uncached, and a cached
// ~50 KB body (to a client sending `Accept-Encoding: br`, and to one that does not), in one server process on
// one private Redis, loaded in interleaved rounds. Prints req/s and p99 per route, the CPU µs per request of
// skiff and of Redis, the bytes Redis holds for the 50 KB entry, and, last, a JSON line of median per-round
// ratios (targets: a hit ≥ 0.95× /hello, its CPU ≤ 1.15× /hello's). `hit_cpu_vs_hello` counts the CPU of every
// process that served the request (skiff + Redis): a hit that asks Redis pays for Redis's side too.
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

const routes: { name: string; path: string; headers?: Record<string, string> }[] = [
  { name: 'hello', path: '/hello' },
  { name: 'cached_hit', path: '/cached/items/1' },
  { name: 'uncached', path: '/uncached/items/1' },
  { name: 'cached_50kb', path: '/cached/big', headers: { 'accept-encoding': 'gzip, deflate, br' } },
  { name: 'cached_50kb_identity', path: '/cached/big' },
];

pinSelf();
console.log(`# bench:cache — ${rounds} rounds × ${durationS}s, ${connections} connections, ${loadTool}; ${pinning}; Redis on the load generator's CPU; Node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-redis-'));
const redis = await startRedisServer({ dir, appendonly: false });
const server = await startTarget({ name: 'skiff-cache', entry: './servers/skiff-cache.ts', env: { REDIS_URL: redis.url } });
/** A round's load figures and the CPU µs per request of skiff and of Redis in that round. */
const samples = new Map<string, ServedSample[]>();
let entryBytes50kb = 0;
try {
  for (const route of routes) {
    const res = await fetch(server.url + route.path);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${route.path}: ${res.status}`);
    await load(server.url + route.path, { connections, durationS: 1, headers: route.headers }); // warm-up; fills the cached routes
  }
  entryBytes50kb = await largestEntryBytes(redis.url);
  const hit = await fetch(server.url + '/cached/items/1');
  if (hit.headers.get('x-cache') !== 'HIT') throw new Error(`the cached route is not served from the cache (${hit.headers.get('x-cache')})`);
  for (let round = 0; round < rounds; round++) {
    for (const route of routes) {
      const cpu = cpuMeter([server.pid, redis.process.pid!]);
      const sample = await load(server.url + route.path, { connections, durationS, headers: route.headers });
      const [appCpuUs, redisCpuUs] = cpu.perUnit(sample.requests);
      if (sample.errors > 0) throw new Error(`${route.path}: ${sample.errors} errors`);
      samples.set(route.name, [...(samples.get(route.name) ?? []), { ...sample, appCpuUs, redisCpuUs }]);
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  await server.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

printRouteTable(routes, samples);
console.log(`\nRedis MEMORY USAGE of the 50 KB entry: ${entryBytes50kb} bytes`);
const ratio = (a: string, b: string) => medianRatio(samples.get(a)!.map((s) => s.rps), samples.get(b)!.map((s) => s.rps));
const totalCpu = (route: string) => samples.get(route)!.map((s) => s.appCpuUs + s.redisCpuUs);
console.log(JSON.stringify({
  cached_hit_vs_hello: ratio('cached_hit', 'hello'),
  cached_hit_vs_uncached: ratio('cached_hit', 'uncached'),
  cached_50kb_vs_hello: ratio('cached_50kb', 'hello'),
  cached_50kb_identity_vs_hello: ratio('cached_50kb_identity', 'hello'),
  hit_cpu_vs_hello: medianRatio(totalCpu('cached_hit'), totalCpu('hello')),
  hit_redis_cpu_us: round2(median(samples.get('cached_hit')!.map((s) => s.redisCpuUs))),
  redis_bytes_50kb_entry: entryBytes50kb,
}));

/** MEMORY USAGE of the largest cache entry in the bench's own Redis: the 50 KB body's. */
async function largestEntryBytes(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const keys = await client.keys('bench:cache:*:e:*');
    const sizes = await Promise.all(keys.map((k) => client.memoryUsage(k)));
    return Math.max(...sizes.map(Number));
  } finally {
    client.destroy();
  }
}
