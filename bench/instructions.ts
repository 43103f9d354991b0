// `npm run bench:instructions`: user-space instructions per request, counted by valgrind (callgrind), for raw
// node:http, raw node:http sending skiff's headers, and skiff, in process (bench/support/in-process.ts). A count does
// not follow what else the machine runs: with V8 made deterministic (--predictable --single-threaded: no background
// compiler or GC threads; --predictable-gc-schedule: heap growth and the memory reducer follow allocation, not the
// clock, which under load otherwise moved one count by a third) the same run gives the same count, where CPU time swings
// ±10–30 % here. Per request = (count after warm-up + N requests − count after warm-up alone) / N, so start-up and
// warm-up cancel out. What it leaves out, bench:http measures: the kernel, Node's HTTP parser, and the cache misses
// between requests (an instruction is not a nanosecond: compare the ratios, not the absolute numbers).
// The child (bench/support/instructions-child.ts) is bundled first: under valgrind, tsx's loader would cost minutes.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { round2 } from './load.ts';

const WARM_UP = 30_000;
const N = Number(process.env.BENCH_REQUESTS ?? 20_000);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
// Inside the repository, so the bundle's bare imports (TypeBox) resolve from node_modules.
const CHILD = `${ROOT}.tmp/bench-instructions-child.mjs`;

async function count(handler: string, url: string, n: number): Promise<number> {
  const args = ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--predictable', '--single-threaded', '--predictable-gc-schedule', CHILD, handler, url, String(WARM_UP), String(n)];
  const run = await promisify(execFile)('valgrind', args, { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, NODE_ENV: 'production' } });
  const collected = /Collected : (\d+)/.exec(run.stderr);
  if (!collected) throw new Error(`no instruction count from valgrind: ${run.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

if (spawnSync('valgrind', ['--version']).error !== undefined) throw new Error('bench:instructions needs valgrind (apt-get install valgrind)');
mkdirSync(`${ROOT}.tmp`, { recursive: true });
await build({ entryPoints: [`${ROOT}bench/support/instructions-child.ts`], outfile: CHILD, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
console.log(`# bench:instructions — user-space instructions per request in process (callgrind, node --predictable --single-threaded --predictable-gc-schedule), ${WARM_UP} warm-up + ${N} requests; Node ${process.version}`);
const handlers = ['raw', 'raw_headers', 'skiff'];
const routes = [['hello', '/hello'], ['item', '/items/42']];
const perRequest = new Map<string, number>();
// Two valgrinds at a time, one per core: the run without and the run with the N requests.
for (const h of handlers) {
  for (const [name, url] of routes) {
    const [base, loaded] = await Promise.all([count(h, url, 0), count(h, url, N)]);
    perRequest.set(`${h}:${name}`, Math.round((loaded - base) / N));
  }
}
const get = (h: string, r: string) => perRequest.get(`${h}:${r}`)!;
console.log('\n| route | raw | raw with skiff\'s headers | skiff |\n|---|---|---|---|');
for (const [name, url] of routes) console.log(`| ${url} | ${handlers.map((h) => get(h, name)).join(' | ')} |`);
const result: Record<string, number> = {};
for (const [name] of routes) {
  result[`skiff_instr_${name}`] = get('skiff', name);
  result[`headers_instr_${name}`] = get('raw_headers', name) - get('raw', name);
  result[`skiff_instr_vs_raw_${name}`] = round2(get('skiff', name) / get('raw', name));
  result[`skiff_instr_vs_raw_same_headers_${name}`] = round2(get('skiff', name) / get('raw_headers', name));
}
console.log(JSON.stringify(result));
