// A private Sentinel topology per test file: a master, one replica and 3 Sentinels on free loopback ports, in a
// temp dir, torn down after. Short timeouts let a test kill the master and see the replica promoted in seconds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort, startRedisServer, type RedisServer } from '../../src/redis/index.ts';

export const SENTINEL_MASTER = 'skiff';

export interface TestSentinels {
  /** `host:port,...` of the Sentinels, as REDIS_SENTINELS takes them. */
  readonly sentinels: string;
  readonly masterPort: number;
  readonly replicaPort: number;
  /** SIGKILL of the master. */
  killMaster(): Promise<void>;
  /** The port of the master the Sentinels currently name. */
  currentMaster(): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestSentinels(): Promise<TestSentinels> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-test-sentinel-'));
  const servers: RedisServer[] = [];
  try {
    const master = await startRedisServer({ dir: join(dir, 'master'), appendonly: false });
    servers.push(master);
    const replica = await startRedisServer({ dir: join(dir, 'replica'), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    servers.push(replica);
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinelDir = join(dir, `sentinel-${i}`);
      const port = await freePort();
      // Sentinel rewrites its config file as it learns the topology: it must be its own, and writable.
      const configFile = join(dir, `sentinel-${i}.conf`);
      writeFileSync(configFile, [
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 3000`,
        '',
      ].join('\n'));
      sentinels.push(await startRedisServer({ dir: sentinelDir, port, appendonly: false, configFile, extraArgs: ['--sentinel'] }));
    }
    servers.push(...sentinels);
    const currentMaster = async (): Promise<number> => {
      const client = createClient({ url: sentinels[0]!.url });
      await client.connect();
      try {
        const reply = (await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER])) as string[];
        return Number(reply[1]);
      } finally {
        client.destroy();
      }
    };
    return {
      sentinels: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      masterPort: master.port,
      replicaPort: replica.port,
      currentMaster,
      async killMaster() {
        master.process.kill('SIGKILL');
        await master.stop();
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
