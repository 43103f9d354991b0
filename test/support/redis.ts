// A private redis-server per test file, on a free port, in a temp dir: tests may kill, pause, restart and
// flush it without touching any Redis they did not start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { createLogger } from '../../src/log.ts';
import { createRedis, pingRedis, startRedisServer, type Redis, type RedisServer } from '../../src/redis/index.ts';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the server keeps its sockets open but answers nothing (a hung Redis). */
  pause(): void;
  resume(): void;
  /** SIGKILL: connections drop at once. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill or stop). */
  restart(): Promise<void>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** One command on a loopback Redis on its own short-lived connection (harness set-up and checks). */
export async function redisCommand(port: number, command: string[]): Promise<unknown> {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  await client.connect();
  try {
    return await client.sendCommand(command);
  } finally {
    client.destroy();
  }
}

/**
 * Starts a group of servers in one temp dir: `start` adds each to `servers` as it starts; the group's stop (also
 * run when starting fails) stops them all and removes the dir; its hardKill SIGKILLs them at once.
 */
export async function startServerGroup<T extends object>(name: string, start: (dir: string, servers: RedisServer[]) => Promise<T>): Promise<T & { stop(): Promise<void>; hardKill(): void }> {
  const dir = mkdtempSync(join(tmpdir(), `skiff-test-${name}-`));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  // Synchronous, for an exit handler: the servers die, the dir stays.
  const hardKill = () => {
    for (const s of servers) {
      s.process.kill('SIGCONT');
      s.process.kill('SIGKILL');
    }
  };
  try {
    return { ...(await start(dir, servers)), stop, hardKill };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startTestRedis(options: { appendonly?: boolean } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-test-redis-'));
  const appendonly = options.appendonly ?? false;
  let server: RedisServer = await startRedisServer({ dir, appendonly });
  const port = server.port;
  const alive = () => server.process.exitCode === null && server.process.signalCode === null;
  const exited = () => new Promise<void>((resolve) => (alive() ? server.process.once('exit', () => resolve()) : resolve()));
  return {
    url: server.url,
    port,
    pause: () => void server.process.kill('SIGSTOP'),
    resume: () => void server.process.kill('SIGCONT'),
    async kill() {
      server.process.kill('SIGCONT');
      server.process.kill('SIGKILL');
      await exited();
    },
    async restart() {
      if (alive()) {
        server.process.kill('SIGCONT');
        await server.stop();
      }
      server = await startRedisServer({ dir, appendonly, port });
    },
    async flush() {
      const c = createClient({ url: server.url });
      await c.connect();
      await c.flushAll();
      await c.close();
    },
    async stop() {
      if (alive()) {
        server.process.kill('SIGCONT');
        await server.stop();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A skiff Redis client (src/redis) on `server`, once it answers. */
export async function connectedClient(server: TestRedis, commandTimeoutMs = 1000): Promise<Redis> {
  const client = createRedis({ url: server.url, commandTimeoutMs, log: createLogger('silent') });
  while (!(await pingRedis(client, 200))) await new Promise((r) => setTimeout(r, 10));
  return client;
}
