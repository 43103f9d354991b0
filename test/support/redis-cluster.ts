// A private Redis Cluster per test file: 3 masters and 3 replicas on free loopback ports, in a temp dir, torn
// down after. A small cluster-node-timeout lets a test kill a master and see its replica take over in seconds.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { freePort, startRedisServer, type RedisServer } from '../../src/redis/index.ts';

const run = promisify(execFile);

export interface TestCluster {
  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: string;
  readonly ports: readonly number[];
  /** Runs one command on every master (e.g. FLUSHALL, SCRIPT FLUSH) and returns the replies. */
  onMasters(command: string[]): Promise<unknown[]>;
  /** SIGKILL of one node. */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

async function call(port: number, command: string[]): Promise<unknown> {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  await client.connect();
  try {
    return await client.sendCommand(command);
  } finally {
    client.destroy();
  }
}

async function clusterOk(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) {
    const info = String(await call(port, ['CLUSTER', 'INFO']).catch(() => ''));
    if (!info.includes('cluster_state:ok')) return false;
  }
  return true;
}

export async function startTestCluster(options: { nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-test-cluster-'));
  const servers: RedisServer[] = [];
  try {
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
    const alive = () => servers.filter((s) => s.process.exitCode === null && s.process.signalCode === null);
    const masters = async (): Promise<number[]> => {
      const found: number[] = [];
      for (const s of alive()) if (String(await call(s.port, ['ROLE']).then((r) => (r as unknown[])[0])) === 'master') found.push(s.port);
      return found;
    };
    return {
      nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
      ports,
      async onMasters(command) {
        return Promise.all((await masters()).map((port) => call(port, command)));
      },
      async kill(port) {
        const server = servers.find((s) => s.port === port);
        if (server === undefined) throw new Error(`no node on port ${port}`);
        server.process.kill('SIGKILL');
        await server.stop();
      },
      async stop() {
        await Promise.all(servers.map((s) => s.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
