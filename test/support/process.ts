// Runs an entry point (src/server.ts by default) as a real child process and finds the port it listens on
// from its JSON "listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every stdout line so far (JSON logs). */
  readonly lines: string[];
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export function runEntry(entry: string, env: Record<string, string>): { child: ChildProcess; lines: string[]; stderr: string[]; exited: Promise<number | string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    // METRICS_PORT 0: servers of parallel tests must not contend for the default port.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'info', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, lines, stderr, exited };
}

export async function startServerProcess(env: Record<string, string>, entry = 'src/server.ts'): Promise<ServerProcess> {
  const { child, lines, stderr, exited } = runEntry(entry, { HOST: '127.0.0.1', PORT: '0', ...env });
  // Generous: on a loaded 2-core machine a primary plus its workers can take many seconds to compile and start.
  const deadline = Date.now() + 90_000;
  let port: number | undefined;
  while (port === undefined) {
    const line = lines.find((l) => l.includes('"msg":"listening"'));
    if (line) port = JSON.parse(line).address.port;
    else if (child.exitCode !== null) throw new Error(`server exited early: ${stderr.join('')}`);
    else if (Date.now() > deadline) {
      // Never leave a half-started server behind: its open pipes would keep the test process alive.
      child.kill('SIGKILL');
      throw new Error('server did not start listening within 90 s');
    } else await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    lines,
    exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
