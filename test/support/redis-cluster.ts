// A private Redis Cluster per test file: 3 masters and 3 replicas on free loopback ports, in a temp dir, torn
// down after. A small cluster-node-timeout keeps the detection of a failed node to seconds.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer, type RedisServerOptions } from '../../src/redis/index.ts';
import { redisCommand as call, startServerGroup } from './redis.ts';

const run = promisify(execFile);

export interface TestCluster {
  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: string;
  /** Runs one command on every master (e.g. FLUSHALL, SCRIPT FLUSH) and returns the replies. */
  onMasters(command: string[]): Promise<unknown[]>;
  /** SIGKILL of the master that owns `key`'s slot; resolves with its port. */
  killSlotMaster(key: string): Promise<number>;
  /** Starts the nodes killed by killSlotMaster again, with their cluster config: they rejoin as replicas. */
  restartKilled(): Promise<void>;
  /** SIGSTOP of the replicas of the master that owns `key`'s slot; resolves with what resumes them (SIGCONT). */
  pauseSlotReplicas(key: string): Promise<() => void>;
  stop(): Promise<void>;
  /** SIGKILL of every node, synchronously (an exit handler's clean-up). */
  hardKill(): void;
}

async function clusterOk(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) {
    const info = String(await call(port, ['CLUSTER', 'INFO']).catch(() => ''));
    if (!info.includes('cluster_state:ok')) return false;
  }
  return true;
}

export function startTestCluster(options: { nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
  return startServerGroup('cluster', async (dir, servers) => {
    const nodeOptions: RedisServerOptions[] = [];
    for (let i = 0; i < 6; i++) {
      const nodeDir = join(dir, String(i));
      nodeOptions.push({
        dir: nodeDir,
        appendonly: false,
        // The bus port is set explicitly: the default (port + 10000) may be taken or above 65535.
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-port', String(await freePort()), '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000)],
      });
      servers.push(await startRedisServer(nodeOptions[i]!));
    }
    const killed: number[] = [];
    /** The ports of the master owning `key`'s slot, then of its replicas (from ROLE: CLUSTER SLOTS lags behind). */
    const slotNodes = async (key: string): Promise<number[]> => {
      const [port] = await masters();
      const slot = Number(await call(port!, ['CLUSTER', 'KEYSLOT', key]));
      // CLUSTER SLOTS: [start, end, [ip, port, id] of the master, then of each replica] per range.
      const ranges = (await call(port!, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
      const owner = Number(ranges.find(([start, end]) => slot >= start && slot <= end)![2][1]);
      const replicas: number[] = [];
      for (const p of ports) {
        const role = (await call(p, ['ROLE'])) as unknown[];
        if (String(role[0]) === 'slave' && Number(role[2]) === owner) replicas.push(p);
      }
      return [owner, ...replicas];
    };
    const ports = servers.map((s) => s.port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    const deadline = Date.now() + 30_000;
    while (!(await clusterOk(ports))) {
      if (Date.now() > deadline) throw new Error('the test cluster did not reach cluster_state:ok within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const masters = async (): Promise<number[]> => {
      const found: number[] = [];
      for (const port of ports) if (String(((await call(port, ['ROLE'])) as unknown[])[0]) === 'master') found.push(port);
      return found;
    };
    return {
      nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
      async onMasters(command: string[]) {
        return Promise.all((await masters()).map((port) => call(port, command)));
      },
      async killSlotMaster(key: string) {
        const [owner] = await slotNodes(key);
        const server = servers.find((s) => s.port === owner)!;
        server.process.kill('SIGKILL');
        await server.stop();
        killed.push(servers.indexOf(server));
        return server.port;
      },
      async pauseSlotReplicas(key: string) {
        const [, ...replicas] = await slotNodes(key);
        if (replicas.length === 0) throw new Error(`no replica serves the slot of ${key}`);
        // Resumed by process, not looked up again: a stopped node never answers the lookup.
        const paused = replicas.map((port) => servers.find((s) => s.port === port)!.process);
        for (const p of paused) p.kill('SIGSTOP');
        return () => void paused.forEach((p) => p.kill('SIGCONT'));
      },
      async restartKilled() {
        for (const i of killed.splice(0)) servers.push(await startRedisServer({ ...nodeOptions[i]!, port: ports[i] }));
      },
    };
  });
}
