// Test helpers for cluster mode: run a primary as a child process and follow its JSON log, and keep keep-alive
// load on a server while counting failures.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const FIXTURE_PRIMARY = fileURLToPath(new URL('./cluster-primary.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LogLine {
  msg: string;
  pid?: number;
  [key: string]: unknown;
}

export interface RunningPrimary {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  /** Resolves with the first log line (already seen or future) matching `pred`. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Worker PIDs that reported ready and have not been retired or died since. */
  livePids(): Set<number>;
  readonly exit: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILLs the primary and its workers if still running. */
  kill(): Promise<void>;
}

export interface PrimaryOptions {
  env: Record<string, string>;
  script?: string;
  args?: string[];
  /** Extra stdio entries from fd 3 on (e.g. a listening socket's fd). */
  extraFds?: number[];
  /** A shell prefix run before exec, e.g. `LISTEN_PID=$$`. */
  shellPrefix?: string;
  /** Drop the children's stderr (tests of workers that crash on purpose). */
  quietStderr?: boolean;
  /** Run this package.json script through npm (`npm run --silent NAME -- args`) instead of `script`. */
  npmScript?: string;
  /** `script` is JavaScript: run it on node alone, without tsx. */
  plainNode?: boolean;
}

export function startPrimary(options: PrimaryOptions): RunningPrimary {
  const script = options.script ?? FIXTURE_PRIMARY;
  // METRICS_PORT 0: servers of parallel tests must not contend for the default port.
  const env = { ...process.env, LOG_LEVEL: 'info', METRICS_PORT: '0', ...options.env };
  const stdio: ('ignore' | 'pipe' | 'inherit' | number)[] = ['ignore', 'pipe', options.quietStderr ? 'ignore' : 'inherit', ...(options.extraFds ?? [])];
  const child = options.shellPrefix
    ? spawn('/bin/sh', ['-c', `${options.shellPrefix} exec "$0" --import tsx "$1"`, process.execPath, script], { env, stdio, detached: true })
    : options.npmScript
      ? spawn('npm', ['run', '--silent', options.npmScript, '--', ...(options.args ?? [])], { cwd: ROOT, env, stdio, detached: true })
      : spawn(process.execPath, [...(options.plainNode ? [] : ['--import', 'tsx']), script, ...(options.args ?? [])], { env, stdio, detached: true });
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      // Access log lines are many under load and never waited for.
      if (text.includes('"msg":"request"')) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exit,
    waitFor(pred, timeoutMs = 60_000) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; last: ${JSON.stringify(lines.slice(-5))}`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
    livePids() {
      const pids = new Set<number>();
      for (const l of lines) {
        if (typeof l.pid !== 'number' || l.role !== 'supervisor') continue;
        if (l.msg === 'worker ready') pids.add(l.pid);
        if (l.msg === 'retiring worker' || l.msg === 'worker died' || l.msg === 'worker exited') pids.delete(l.pid);
      }
      return pids;
    },
    signal: (sig) => void child.kill(sig),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exit;
    },
  };
}

export async function getJson(url: string, agent?: http.Agent, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    http.request(url, { agent: agent ?? false, method }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text.startsWith('{') ? JSON.parse(text) : text });
        } catch (err) {
          reject(err);
        }
      });
    }).on('error', reject).end();
  });
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  pids: Set<number>;
}

/** `concurrency` keep-alive loops hitting `url` until stopped; any error or non-200 counts as a failure. */
export function keepAliveLoad(url: string, concurrency = 8): { stop(): Promise<LoadResult>; result: LoadResult } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failed: 0, errors: [], pids: new Set() };
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        const res = await getJson(url, agent);
        if (res.status === 200) {
          result.ok++;
          result.pids.add(res.body.pid);
        } else {
          result.failed++;
          result.errors.push(`status ${res.status}`);
        }
      } catch (err) {
        result.failed++;
        result.errors.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or the time runs out. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 60_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
