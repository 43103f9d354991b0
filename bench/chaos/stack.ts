// The example service as deployed, on this machine only: a private redis-server with AOF on a free port, the API
// supervisor (`src/server.ts`, WEB_CONCURRENCY HTTP workers) and optionally the queue worker supervisor
// (`src/worker.ts`). Every process runs in its own process group and is registered for clean-up, so a failed
// scenario or a Ctrl-C leaves nothing behind (see cleanUpEverything).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type RedisClientType } from 'redis';
import { loadConfig } from '../../src/config.ts';
import { freePort, startRedisServer, type RedisServer } from '../../src/redis/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const API_KEY = 'chaos-key';
/** REDIS_PREFIX of every process the stack starts (the default), so the inspector finds their keys. */
export const PREFIX = 'skiff:';

export interface StackOptions {
  /** HTTP worker processes of the API supervisor (WEB_CONCURRENCY). */
  webConcurrency?: number;
  /** Queue worker processes (WORKER_CONCURRENCY); 0 starts no worker supervisor. */
  workerConcurrency?: number;
  /** REDIS_COMMAND_TIMEOUT_MS; unset: the service's default. */
  redisBoundMs?: number;
  /** JOB_LEASE_MS; unset: the service's default. */
  leaseMs?: number;
  /** More environment for every process. */
  env?: Record<string, string>;
}

export interface LogLine {
  msg: string;
  role?: string;
  pid?: number;
  [field: string]: unknown;
}

/** One supervisor (API or queue workers) and its JSON log, access-log lines left out. */
export interface Supervisor {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the exit code (or signal name) once the supervisor is gone. */
  readonly exited: Promise<number | string>;
  readonly running: () => boolean;
  /** Resolves with the first line from index `from` on (seen or future) matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (line: LogLine) => boolean, timeoutMs: number, what: string, from?: number): Promise<LogLine>;
  /** Child PIDs that reported ready and have not exited since. */
  workerPids(): number[];
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL to the whole process group; resolves once the supervisor is gone. */
  kill(): Promise<void>;
}

export interface ChaosRedis {
  readonly url: string;
  /** SIGSTOP: sockets stay open, nothing answers (a hung Redis). */
  pause(): void;
  resume(): void;
  /** Graceful stop (SIGTERM: the AOF is flushed, so nothing acknowledged is lost), then start on the same port. */
  restart(downMs: number): Promise<void>;
  /** A client of the driver's own, for seeding and inspection; never used while paused. */
  readonly client: RedisClientType;
}

export interface Stack {
  readonly url: string;
  readonly redis: ChaosRedis;
  readonly api: Supervisor;
  readonly workers: Supervisor | null;
  readonly boundMs: number;
  readonly leaseMs: number;
  /** Kills every process of the stack and stops Redis. */
  stop(): Promise<void>;
}

// Everything started and not yet stopped, for the clean-up on failure, Ctrl-C and exit.
interface Started {
  /** SIGKILL, synchronously. */
  hardKill(): void;
  /** Resolves once the process has exited. */
  readonly gone: Promise<unknown>;
  /** What to remove once it has exited (Redis's data directory). */
  readonly dir?: string;
}
const live = new Set<Started>();

/** SIGKILLs every process group and redis-server still running. Synchronous: safe in an 'exit' handler. */
export function cleanUpEverything(): void {
  for (const p of live) p.hardKill();
}
process.once('exit', cleanUpEverything);

/**
 * Ctrl-C or SIGTERM to the driver (or to a test file running the suite): kill everything, wait (briefly) until
 * it is gone, remove Redis's data directories, exit 130. The scenarios' own finally blocks may not run.
 */
export function cleanUpOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nchaos: ${sig}, stopping every process it started\n`);
      const started = [...live];
      cleanUpEverything();
      const gone = Promise.all(started.map((p) => p.gone));
      void Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]).then(() => {
        for (const p of started) if (p.dir) rmSync(p.dir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
}

function startSupervisor(entry: string, env: Record<string, string>): Supervisor {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid!;
  const lines: LogLine[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      // One access-log line per request under load: never waited for, so never parsed.
      if (!text.startsWith('{') || text.includes('"msg":"request"')) continue;
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const w of waiters) if (w.pred(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const entryHandle: Started = {
    hardKill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
    gone: exited,
  };
  live.add(entryHandle);
  void exited.then(() => {
    // The group may outlive its leader (workers mid-exit): kill what is left, then forget it.
    entryHandle.hardKill();
    live.delete(entryHandle);
  });
  return {
    child,
    pid,
    lines,
    stderr: () => stderr,
    exited,
    running,
    waitFor(pred, timeoutMs, what, from = 0) {
      const seen = lines.slice(from).find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pred, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${entry}: no "${what}" within ${timeoutMs} ms; stderr: ${stderr.slice(-800)}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    workerPids() {
      const pids = new Set<number>();
      for (const l of lines) {
        if (l.role !== 'supervisor' || typeof l.pid !== 'number') continue;
        if (l.msg === 'worker ready') pids.add(l.pid);
        else if (l.msg === 'worker exited' || l.msg === 'worker died' || l.msg === 'retiring worker') pids.delete(l.pid);
      }
      return [...pids];
    },
    signal: (sig) => void (running() && child.kill(sig)),
    async kill() {
      entryHandle.hardKill();
      await exited;
    },
  };
}

async function startRedis(): Promise<ChaosRedis & { stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-chaos-redis-'));
  let server: RedisServer = await startRedisServer({ dir, appendonly: true });
  const port = server.port;
  // After a restart `server` is another process: the clean-up always reaches the current one.
  const handle: Started = {
    hardKill() {
      server.process.kill('SIGCONT');
      server.process.kill('SIGKILL');
    },
    get gone() {
      const p = server.process;
      return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
    },
    dir,
  };
  live.add(handle);
  const client = createClient({ url: server.url }) as unknown as RedisClientType;
  client.on('error', () => {});
  await client.connect();
  return {
    url: server.url,
    client,
    pause: () => void server.process.kill('SIGSTOP'),
    resume: () => void server.process.kill('SIGCONT'),
    async restart(downMs) {
      server.process.kill('SIGCONT');
      await server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      server = await startRedisServer({ dir, appendonly: true, port });
      // The driver's client reconnects by itself; wait for it so inspection right after works.
      const deadline = Date.now() + 10_000;
      while (!client.isReady && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
    async stop() {
      await client.close().catch(() => client.destroy());
      server.process.kill('SIGCONT');
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      live.delete(handle);
    },
  };
}

/** Polls until GET /readyz answers 200 (the API workers listen and reach Redis). */
async function untilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url}/readyz did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The supervisors of a running service, without its Redis. */
export interface Service {
  readonly url: string;
  readonly api: Supervisor;
  readonly workers: Supervisor | null;
  readonly boundMs: number;
  readonly leaseMs: number;
  /** Kills every process of the service. */
  stop(): Promise<void>;
}

/**
 * Starts the API supervisor and (unless workerConcurrency is 0) the queue worker supervisor on the Redis that
 * `redisEnv` names (REDIS_URL, or a cluster's or Sentinels' settings), and waits until both are ready.
 */
export async function startService(redisEnv: Record<string, string>, options: StackOptions = {}): Promise<Service> {
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    ...redisEnv,
    HOST: '127.0.0.1',
    PORT: String(port),
    // Metrics have their own listener (default 9464): any free port, so parallel runs do not contend for it.
    METRICS_PORT: '0',
    API_KEYS: API_KEY,
    WEB_CONCURRENCY: String(options.webConcurrency ?? 2),
    WORKER_CONCURRENCY: String(options.workerConcurrency || 1),
    // The load sends exports far faster than a client would: the per-key quota (429) is not what is measured.
    EXPORT_MAX_STORED_BYTES: String(2 ** 40),
    // Nor the rate limits: they stay in the path (each request still spends from Redis, failing open while it is
    // away) but never refuse at these rates.
    RATE_LIMIT_WRITE_QUOTA: '1000000',
    RATE_LIMIT_WRITE_BURST: '1000000',
    RATE_LIMIT_READ_QUOTA: '1000000',
    RATE_LIMIT_READ_BURST: '1000000',
    ...(options.redisBoundMs === undefined ? {} : { REDIS_COMMAND_TIMEOUT_MS: String(options.redisBoundMs) }),
    ...(options.leaseMs === undefined ? {} : { JOB_LEASE_MS: String(options.leaseMs) }),
    ...options.env,
  };
  const config = loadConfig(env);
  const started: Supervisor[] = [];
  const stop = () => Promise.all(started.map((s) => s.kill())).then(() => {});
  try {
    const api = startSupervisor('src/server.ts', env);
    started.push(api);
    const workers = options.workerConcurrency === 0 ? null : startSupervisor('src/worker.ts', env);
    if (workers) started.push(workers);
    // Generous: a loaded 2-core machine compiles and starts several tsx processes slowly.
    const ready = (s: Supervisor) => s.waitFor((l) => l.msg === 'all workers ready', 120_000, 'all workers ready');
    await Promise.all(started.map(ready));
    const url = `http://127.0.0.1:${port}`;
    await untilReady(url, 30_000);
    // What the processes read from the same environment: the figures are judged against these.
    return { url, api, workers, boundMs: config.redisCommandTimeoutMs, leaseMs: config.queue.leaseMs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts Redis, the API supervisor and (unless workerConcurrency is 0) the queue worker supervisor. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const redis = await startRedis();
  try {
    const service = await startService({ REDIS_URL: redis.url }, options);
    return {
      ...service,
      redis,
      async stop() {
        await service.stop();
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

/**
 * Registers servers the driver started elsewhere (a test topology) for the clean-up on failure, Ctrl-C and exit;
 * the returned function unregisters them once they are stopped.
 */
export function trackForCleanUp(hardKill: () => void): () => void {
  const handle: Started = { hardKill, gone: Promise.resolve() };
  live.add(handle);
  return () => void live.delete(handle);
}
