// A private Sentinel topology per test file: a master, one replica and 3 Sentinels on free loopback ports, in a
// temp dir, torn down after. Short timeouts let a test kill the master and see the replica promoted in seconds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisServer } from '../../src/redis/index.ts';
import { redisCommand as call, startServerGroup } from './redis.ts';

export const SENTINEL_MASTER = 'skiff';

export interface TestSentinels {
  /** `host:port,...` of the Sentinels, as REDIS_SENTINELS takes them. */
  readonly sentinels: string;
  readonly replicaPort: number;
  /** SIGSTOP of the replica: it stays connected and acknowledges nothing (WAIT times out). */
  pauseReplica(): void;
  resumeReplica(): void;
  /** SIGKILL of the master. */
  killMaster(): Promise<void>;
  /** The port of the master the Sentinels currently name. */
  currentMaster(): Promise<number>;
  stop(): Promise<void>;
}

async function replicaKnown(replicaPort: number, sentinelPorts: number[]): Promise<boolean> {
  if (!String(await call(replicaPort, ['INFO', 'replication'])).includes('master_link_status:up')) return false;
  for (const port of sentinelPorts) {
    const replicas = (await call(port, ['SENTINEL', 'REPLICAS', SENTINEL_MASTER])) as unknown[];
    if (replicas.length === 0) return false;
  }
  return true;
}

export function startTestSentinels(): Promise<TestSentinels> {
  return startServerGroup('sentinel', async (dir, servers) => {
    const master = await startRedisServer({ dir: join(dir, 'master'), appendonly: false });
    servers.push(master);
    const replica = await startRedisServer({ dir: join(dir, 'replica'), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    servers.push(replica);
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Sentinel rewrites its config file as it learns the topology: it must be its own, and writable.
      const configFile = join(dir, `sentinel-${i}.conf`);
      writeFileSync(configFile, [
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 3000`,
        '',
      ].join('\n'));
      const sentinel = await startRedisServer({ dir: join(dir, `sentinel-${i}`), appendonly: false, configFile, extraArgs: ['--sentinel'] });
      servers.push(sentinel);
      sentinelPorts.push(sentinel.port);
    }
    // Ready once the replica is in sync and every Sentinel knows it: else a failover has no one to promote.
    const deadline = Date.now() + 30_000;
    while (!(await replicaKnown(replica.port, sentinelPorts))) {
      if (Date.now() > deadline) throw new Error('the test replica did not sync, or the Sentinels did not find it, within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      replicaPort: replica.port,
      pauseReplica: () => void replica.process.kill('SIGSTOP'),
      resumeReplica: () => void replica.process.kill('SIGCONT'),
      currentMaster: async () => Number(((await call(sentinelPorts[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER])) as string[])[1]),
      async killMaster() {
        master.process.kill('SIGKILL');
        await master.stop();
      },
    };
  });
}
