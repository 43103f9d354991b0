// Helpers for the queue tests: real worker processes, polling for a condition, and the CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestClient } from '../../src/testing/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('./queue-worker.ts', import.meta.url));

export interface WorkerProc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Env for a spawned process on this Redis with short timings. */
export function queueEnv(url: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, REDIS_URL: url, REDIS_PREFIX: 'qt:', LOG_LEVEL: 'info', JOB_LEASE_MS: '600', WORKER_GRACE_MS: '2000', ...extra };
}

/** Spawns the test worker entry and resolves once it reads its queue. */
export async function spawnWorker(url: string, id: string, extra: Record<string, string> = {}): Promise<WorkerProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
    cwd: ROOT,
    env: queueEnv(url, { WORKER_ID: id, ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  await until(() => out.includes('ready\n') || child.exitCode !== null, 60_000, `worker ${id} ready`);
  if (!out.includes('ready\n')) throw new Error(`worker ${id} did not start:\n${out}`);
  return { child, exited, output: () => out };
}

/** SIGKILLs the workers still running and waits until every one has exited (test clean-up). */
export async function killWorkers(procs: WorkerProc[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** Polls `check` until it holds; throws with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls GET /v1/jobs/{id} until the job has ended; returns its view. */
export async function jobEnd(client: TestClient, id: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  let job: Record<string, unknown> = {};
  await until(async () => {
    job = (await client.get(`/v1/jobs/${id}`, { headers })).json();
    return ['complete', 'failed', 'aborted'].includes(job.status as string);
  }, 15_000, `job ${id}`);
  return job;
}

/** Runs `npm run queue -- ...args` (the CLI entry, directly) and returns its exit code and stdout. */
export function runCli(url: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/queue/cli.ts', ...args], { cwd: ROOT, env: queueEnv(url, extra), stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout })));
}
