// A private Redis Cluster per test file: 3 masters and 3 replicas on free loopback ports, in a temp dir, torn
// down after. A small cluster-node-timeout keeps the detection of a failed node to seconds.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startRedisServer } from '../../src/redis/index.ts';
import { redisCommand as call, startServerGroup } from './redis.ts';

const run = promisify(execFile);

export interface TestCluster {
  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: string;
  /** Runs one command on every master (e.g. FLUSHALL, SCRIPT FLUSH) and returns the replies. */
  onMasters(command: string[]): Promise<unknown[]>;
  stop(): Promise<void>;
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
    for (let i = 0; i < 6; i++) {
      const nodeDir = join(dir, String(i));
      servers.push(await startRedisServer({
        dir: nodeDir,
        appendonly: false,
        // The bus port is set explicitly: the default (port + 10000) may be taken or above 65535.
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-port', String(await freePort()), '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000)],
      }));
    }
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
    };
  });
}
