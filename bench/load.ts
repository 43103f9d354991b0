// Shared benchmark plumbing: start a server in its own (pinned) process, load it with autocannon, and
// summarise interleaved rounds as medians, because these machines are shared and noisy.
import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort } from '../src/redis/index.ts';

export interface Target {
  name: string;
  entry: string;
  env?: Record<string, string>;
}

export interface Running {
  url: string;
  child: ChildProcess;
  /** The server process itself (taskset execs it), whose CPU time a round measures. */
  pid: number;
  stop(): Promise<void>;
}

// BENCH_PIN=0 lets server and load generator share both CPUs, to compare the noise of the two set-ups.
const hasTaskset = process.env.BENCH_PIN !== '0' && spawnSync('taskset', ['-V']).status === 0;
export const pinning = hasTaskset ? 'server pinned to CPU 0 with taskset, load generator on CPU 1' : 'not pinned: server and load generator share the CPUs';

/** Starts `entry` in a child process (on CPU 0 when taskset exists) and waits for its 'ready' message. */
export async function startTarget(target: Target): Promise<Running> {
  const port = await freePort();
  const entry = fileURLToPath(new URL(target.entry, import.meta.url));
  const child = fork(entry, [], {
    execPath: hasTaskset ? 'taskset' : process.execPath,
    execArgv: hasTaskset ? ['-c', '0', process.execPath, '--import', 'tsx'] : ['--import', 'tsx'],
    env: { ...process.env, ...target.env, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${target.name} exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export interface Sample {
  rps: number;
  p99: number;
  errors: number;
  /** Responses completed in the round: what the server's CPU time is divided by. */
  requests: number;
}

const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
/** wrk (C, one thread) when installed: it needs far less CPU than autocannon to saturate a Node server. */
export const loadTool = hasWrk ? 'wrk -t1' : 'autocannon';

export async function load(url: string, options: { connections: number; durationS: number; headers?: Record<string, string> }): Promise<Sample> {
  const headers = options.headers ?? {};
  if (!hasWrk) {
    const result = await autocannon({ url, connections: options.connections, duration: options.durationS, pipelining: 1, headers });
    return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx, requests: result.requests.total };
  }
  const args = ['-t1', `-c${options.connections}`, `-d${options.durationS}s`, '--latency', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  // Not spawnSync: bench:http's BENCH_TOGETHER runs one wrk per server at once.
  const run = await promisify(execFile)(hasTaskset ? 'taskset' : 'wrk', hasTaskset ? ['-c', '1', 'wrk', ...args] : args, { encoding: 'utf8' });
  const out = run.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in /.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 } as const;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps) || !Number.isFinite(requests) || !p99) throw new Error(`could not read wrk output: ${out}${run.stderr}`);
  return { rps, p99: round2(Number(p99[1]) * unit[p99[2] as keyof typeof unit]), errors: non2xx + socketErrors, requests };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The median over rounds of a[i] / b[i]: each round's ratio is taken under that round's conditions. */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  return round2(median(a.map((x, i) => x / b[i])));
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** A round's load figures with the CPU µs per request of the app and of Redis. */
export type ServedSample = Sample & { appCpuUs: number; redisCpuUs: number };

/** The Markdown table of per-route medians over the rounds (req/s, p99, skiff's and Redis's CPU per request). */
export function printRouteTable(routes: readonly { name: string; path: string }[], samples: ReadonlyMap<string, ServedSample[]>): void {
  console.log('\n| route | path | req/s (median) | p99 ms (median) | skiff CPU µs/req (median) | Redis CPU µs/req (median) |\n|---|---|---|---|---|---|');
  for (const route of routes) {
    const s = samples.get(route.name)!;
    const med = (f: (x: ServedSample) => number) => round2(median(s.map(f)));
    console.log(`| ${route.name} | ${route.path} | ${Math.round(med((x) => x.rps))} | ${med((x) => x.p99)} | ${med((x) => x.appCpuUs)} | ${med((x) => x.redisCpuUs)} |`);
  }
}

export function pinSelf(): void {
  if (hasTaskset) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)]);
}
