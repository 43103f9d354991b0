// Starting a redis-server of our own: for `npm start` on a machine with no Redis configured, and for tests,
// which must never touch a shared instance.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';

export interface RedisServerOptions {
  /** 0 picks a free port. */
  port?: number;
  dir: string;
  appendonly: boolean;
  bin?: string;
  /**
   * Run it in a process group of its own, so a terminal's Ctrl-C reaches only its owner, which stops it once
   * its workers have drained (npm start). It is still stopped when the owner exits.
   */
  ownProcessGroup?: boolean;
  /** A config file read first (a Sentinel's: it rewrites it as it learns the topology). */
  configFile?: string;
  /** More options after skiff's own (cluster mode, replicaof, --sentinel); a later option wins. */
  extraArgs?: string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** SHUTDOWN-like stop: SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when something on host:port answers a RESP PING within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export class RedisNotInstalledError extends Error {
  override readonly name = 'RedisNotInstalledError';
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const port = options.port || (await freePort());
  mkdirSync(options.dir, { recursive: true });
  const args = [
    ...(options.configFile === undefined ? [] : [options.configFile]),
    '--port', String(port), '--bind', '127.0.0.1', '--dir', options.dir, '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(options.bin ?? 'redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'], detached: options.ownProcessGroup });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (options.ownProcessGroup) {
    const stopOnExit = () => child.kill('SIGTERM');
    process.once('exit', stopOnExit);
    void exited.then(() => process.off('exit', stopOnExit));
  }
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new RedisNotInstalledError('redis-server is not installed') : err));
    const deadline = Date.now() + 10_000;
    const poll = async (): Promise<void> => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with code ${child.exitCode}`));
      if (await redisAnswers('127.0.0.1', port, 200)) return resolve();
      if (Date.now() > deadline) return reject(new Error('redis-server did not answer within 10 s'));
      setTimeout(poll, 20);
    };
    child.once('spawn', () => void poll());
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
