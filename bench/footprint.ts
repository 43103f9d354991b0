// npm run bench:footprint: what the example service costs at rest. For each way of running it — `npm start` (the
// compiled bundle, as production and the systemd units run it) and `node --import tsx src/server.ts
// --with-workers` (TypeScript through tsx, as development runs it, and as npm start did before the build) — one
// HTTP worker and one queue worker on a private redis-server: the process tree with each process's RSS, the
// idle RSS of the supervisor and each worker 2 s after ready and once settled (V8's memory reducer returns the
// start-up garbage some 10–40 s after the last allocation), each worker's boot (fork → its `ready` message,
// from the supervisor's log) at start and after a kill -9, and a memory breakdown of module loading in probe
// processes (process.memoryUsage() after a full GC). Last line: JSON of the npm start figures.
//
//   npm run bench:footprint                 both ways, 45 s settle
//   npm run bench:footprint -- --settle=60 --only=npm
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startRedisServer } from '../src/redis/index.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { settle: { type: 'string', default: '45' }, only: { type: 'string' } } });
const SETTLE_S = Number(values.settle);

interface Way { name: string; command: string[] }
const WAYS: Way[] = [
  { name: 'npm', command: ['npm', 'start'] },
  { name: 'tsx', command: [process.execPath, '--import', 'tsx', 'src/server.ts', '--with-workers'] },
].filter((w) => values.only === undefined || values.only.split(',').includes(w.name));

interface LogLine { time: string; msg: string; role?: string; group?: string; pid?: number }
interface Proc { pid: number; ppid: number; rssMb: number; args: string }

const mb = (kb: number) => Math.round(kb / 102.4) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`footprint: ${msg}\n`);

/** RSS of a live process from /proc, in MB: total, and how much is anonymous (its own) or file-backed (shared code). */
function rss(pid: number): { total: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { total: mb(kb('VmRSS')), anon: mb(kb('RssAnon')), file: mb(kb('RssFile')) };
}

/** Every process of a process group, parents before children. */
function tree(pgid: number): Proc[] {
  const out = spawnSync('ps', ['-o', 'pid=,ppid=,rss=,args=', '-g', String(pgid)], { encoding: 'utf8' }).stdout;
  return out.trim().split('\n').map((line) => {
    const [pid, ppid, kb, ...args] = line.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), rssMb: mb(Number(kb)), args: args.join(' ') };
  });
}

function printTree(procs: Proc[], roles: Map<number, string>): void {
  const children = (pid: number) => procs.filter((p) => p.ppid === pid);
  const top = procs.filter((p) => !procs.some((q) => q.pid === p.ppid));
  const walk = (p: Proc, depth: number) => {
    const role = roles.get(p.pid) ?? '';
    log(`  ${'  '.repeat(depth)}${p.pid} ${String(p.rssMb).padStart(6)} MB  ${role.padEnd(13)} ${p.args.slice(0, 90)}`);
    for (const c of children(p.pid)) walk(c, depth + 1);
  };
  for (const p of top) walk(p, 0);
  log(`  total ${Math.round(procs.reduce((s, p) => s + p.rssMb, 0))} MB in ${procs.length} processes`);
}

interface Figures {
  tree: { role: string; rss_mb: number; command: string }[];
  supervisor_rss_mb: number; api_worker_rss_mb: number; queue_worker_rss_mb: number;
  at_ready: { supervisor_rss_mb: number; api_worker_rss_mb: number; queue_worker_rss_mb: number };
  anon_mb: { supervisor: number; api_worker: number; queue_worker: number };
  boot_ms: { api: number; queue: number; api_respawn: number; queue_respawn: number };
  worker_boot_ms: number;
}

async function measure(way: Way, redisUrl: string): Promise<Figures> {
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', LOG_LEVEL: 'debug', REDIS_URL: redisUrl,
    PORT: String(await freePort()), METRICS_PORT: String(await freePort()), WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1',
  };
  const child = spawn(way.command[0], way.command.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pgid = child.pid!;
  const killGroup = () => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', killGroup);
  const lines: LogLine[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const text of parts) if (text.startsWith('{')) lines.push(JSON.parse(text) as LogLine);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise((r) => child.once('exit', r));
  const waitFor = async (pred: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(pred);
      if (found) return found;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${way.name}: no "${what}"; stderr: ${stderr.slice(-800)}`);
      await sleep(20);
    }
  };
  const sup = (msg: string, pid?: number) => (l: LogLine) => l.role === 'supervisor' && l.msg === msg && (pid === undefined || l.pid === pid);
  /** fork (the supervisor's "worker started", logged right after cluster.fork) → the worker's ready message. */
  const bootMs = async (pid: number) => {
    const ready = await waitFor(sup('worker ready', pid), `worker ${pid} ready`);
    const started = await waitFor(sup('worker started', pid), `worker ${pid} started`);
    return Date.parse(ready.time) - Date.parse(started.time);
  };
  try {
    await waitFor(sup('all workers ready'), 'all workers ready');
    const supervisorPid = (await waitFor(sup('supervisor started'), 'supervisor started')).pid!;
    const workerPid = (group: string) => lines.find((l) => sup('worker ready')(l) && l.group === group)!.pid!;
    const [apiPid, queuePid] = [workerPid('api'), workerPid('worker')];
    const boot = { api: await bootMs(apiPid), queue: await bootMs(queuePid) };
    await sleep(2000);
    const roles = new Map([[supervisorPid, 'supervisor'], [apiPid, 'api worker'], [queuePid, 'queue worker']]);
    const procs = tree(pgid);
    for (const p of procs) if (!roles.has(p.pid)) roles.set(p.pid, p.args.startsWith('npm') ? 'npm' : p.args.includes('esbuild') ? 'esbuild (tsx)' : p.args.split(' ')[0]);
    log(`${way.name}: ${way.command.join(' ')} — process tree 2 s after ready (RSS):`);
    printTree(procs, roles);
    const atReady = { supervisor_rss_mb: rss(supervisorPid).total, api_worker_rss_mb: rss(apiPid).total, queue_worker_rss_mb: rss(queuePid).total };
    log(`${way.name}: idle ${SETTLE_S} s ...`);
    await sleep(SETTLE_S * 1000);
    const settled = { supervisor: rss(supervisorPid), api: rss(apiPid), queue: rss(queuePid) };
    // A worker killed after 5 s of uptime is replaced at once (no crash backoff): the boot a crash recovery waits.
    const respawn = async (pid: number, group: string) => {
      const from = lines.length;
      process.kill(pid, 'SIGKILL');
      const fresh = await waitFor((l) => lines.indexOf(l) >= from && sup('worker ready')(l) && l.group === group, `${group} respawn`);
      return bootMs(fresh.pid!);
    };
    const respawned = { api_respawn: await respawn(apiPid, 'api'), queue_respawn: await respawn(queuePid, 'worker') };
    const boots = { ...boot, ...respawned };
    return {
      tree: procs.map((p) => ({ role: roles.get(p.pid)!, rss_mb: p.rssMb, command: p.args.slice(0, 60) })),
      supervisor_rss_mb: settled.supervisor.total, api_worker_rss_mb: settled.api.total, queue_worker_rss_mb: settled.queue.total,
      at_ready: atReady,
      anon_mb: { supervisor: settled.supervisor.anon, api_worker: settled.api.anon, queue_worker: settled.queue.anon },
      boot_ms: boots,
      worker_boot_ms: Math.max(...Object.values(boots)),
    };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    killGroup();
    process.off('exit', killGroup);
  }
}

/**
 * Where the RSS goes, in probe processes with --expose-gc: each stage imports its modules, runs a full GC and
 * reports process.memoryUsage() and the young generation's size (V8 grows it while start-up allocates).
 */
function probe(): void {
  const chunk = readdirSync(join(ROOT, 'dist')).find((f) => f.startsWith('app-') && f.endsWith('.js'));
  const stages: [string, string[], string[]][] = [
    ['node, nothing loaded', [], []],
    ['node --import tsx, nothing loaded', ['--import', 'tsx'], []],
    ['+ @sinclair/typebox (its ~300 modules)', [], ['@sinclair/typebox']],
    ['+ redis (node-redis)', [], ['redis']],
    ['+ TypeBox and node-redis', [], ['@sinclair/typebox', 'redis']],
    ['+ the example app, bundled (dist)', [], [`./dist/${chunk}`]],
    ['+ the example app through tsx (src)', ['--import', 'tsx'], ['./src/app/index.ts']],
  ];
  const script = `import v8 from 'node:v8';
for (const m of JSON.parse(process.env.PROBE)) await import(m);
globalThis.gc();
const u = process.memoryUsage(), space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
console.log(JSON.stringify({ rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, newSpace: space.space_size }));`;
  log('memory after loading (after a full GC; MB):');
  log(`  ${'stage'.padEnd(44)}    rss heapUsed heapTotal  new space  external`);
  for (const [label, flags, modules] of stages) {
    const r = spawnSync(process.execPath, [...flags, '--expose-gc', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, PROBE: JSON.stringify(modules) }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`probe ${label}: ${r.stderr}`);
    const u = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    const f = (n: number, w: number) => (n / 1048576).toFixed(1).padStart(w);
    log(`  ${label.padEnd(44)} ${f(u.rss, 6)} ${f(u.heapUsed, 8)} ${f(u.heapTotal, 9)} ${f(u.newSpace, 10)} ${f(u.external, 9)}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'skiff-footprint-redis-'));
const redis = await startRedisServer({ dir, appendonly: false });
log(`${new Date().toISOString()}, Node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const results: Record<string, Figures> = {};
try {
  for (const way of WAYS) results[way.name] = await measure(way, redis.url);
  probe();
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
const row = (label: string, pick: (f: Figures) => number) => log(`  ${label.padEnd(34)}${WAYS.map((w) => String(pick(results[w.name])).padStart(10)).join('')}`);
log(`summary (settled = after ${SETTLE_S} s idle):${WAYS.map((w) => w.name.padStart(10)).join('')}`);
row('supervisor RSS MB, 2 s after ready', (f) => f.at_ready.supervisor_rss_mb);
row('api worker RSS MB, 2 s after ready', (f) => f.at_ready.api_worker_rss_mb);
row('queue worker RSS MB, 2 s after ready', (f) => f.at_ready.queue_worker_rss_mb);
row('supervisor RSS MB, settled', (f) => f.supervisor_rss_mb);
row('api worker RSS MB, settled', (f) => f.api_worker_rss_mb);
row('queue worker RSS MB, settled', (f) => f.queue_worker_rss_mb);
row('tree RSS MB (all processes)', (f) => Math.round(f.tree.reduce((s, p) => s + p.rss_mb, 0)));
row('api worker boot ms', (f) => f.boot_ms.api);
row('queue worker boot ms', (f) => f.boot_ms.queue);
row('api worker respawn boot ms', (f) => f.boot_ms.api_respawn);
row('queue worker respawn boot ms', (f) => f.boot_ms.queue_respawn);
const main = results.npm ?? Object.values(results)[0];
process.stdout.write(`${JSON.stringify({
  api_worker_rss_mb: main.api_worker_rss_mb, queue_worker_rss_mb: main.queue_worker_rss_mb, supervisor_rss_mb: main.supervisor_rss_mb,
  worker_boot_ms: main.worker_boot_ms, at_ready: main.at_ready, boot_ms: main.boot_ms, anon_mb: main.anon_mb,
  ...(results.tsx && results.npm && { tsx: { api_worker_rss_mb: results.tsx.api_worker_rss_mb, queue_worker_rss_mb: results.tsx.queue_worker_rss_mb, supervisor_rss_mb: results.tsx.supervisor_rss_mb, worker_boot_ms: results.tsx.worker_boot_ms, at_ready: results.tsx.at_ready } }),
  tree: main.tree.map((p) => `${p.role} ${p.rss_mb}`),
  settle_s: SETTLE_S, load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0], node: process.version,
})}\n`);
