// A private Sentinel topology per test file: a master, one replica and 3 Sentinels on free loopback ports, in a
// temp dir, torn down after. Short timeouts let a test kill the master and see the replica promoted in seconds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startRedisServer } from '../../src/redis/index.ts';
import { redisCommand as call, startServerGroup } from './redis.ts';
import type { Redis } from '../../src/redis/index.ts';
import { until } from './queue.ts';
import type { TestTls } from './redis-tls.ts';

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
  /** Starts the killed master again on its port, empty: the Sentinels make it a replica of the promoted one. */
  restartKilledMaster(): Promise<void>;
  /** The port of the master the Sentinels currently name. */
  currentMaster(): Promise<number>;
  stop(): Promise<void>;
  /** SIGKILL of every server and Sentinel, synchronously (an exit handler's clean-up). */
  hardKill(): void;
}

async function replicaKnown(replicaPort: number, sentinelPorts: number[]): Promise<boolean> {
  if (!String(await call(replicaPort, ['INFO', 'replication'])).includes('master_link_status:up')) return false;
  for (const port of sentinelPorts) {
    const replicas = (await call(port, ['SENTINEL', 'REPLICAS', SENTINEL_MASTER])) as unknown[];
    if (replicas.length === 0) return false;
  }
  return true;
}

export interface SentinelOptions {
  /**
   * TLS everywhere a client or a server connects: each server (Sentinels included) gets a TLS port beside its
   * plain one (the harness's own checks), replication and the Sentinels' links run over TLS, and `sentinels` and
   * the ports the Sentinels report are the TLS ones.
   */
  tls?: TestTls;
  /** Once the topology is up: master and replica require this password (masterauth, the Sentinels' auth-pass). */
  password?: string;
}

export function startTestSentinels(options: SentinelOptions = {}): Promise<TestSentinels> {
  const { tls, password } = options;
  return startServerGroup('sentinel', async (dir, servers) => {
    // The port others reach a server on, and the options that open it.
    const reach = async (): Promise<{ port: number | undefined; args: string[] }> => {
      if (tls === undefined) return { port: undefined, args: [] };
      const port = await freePort();
      return { port, args: [...tls.serverArgs(port), '--tls-replication', 'yes'] };
    };
    const masterTls = await reach();
    const masterOptions = { dir: join(dir, 'master'), appendonly: false, extraArgs: masterTls.args };
    const master = await startRedisServer(masterOptions);
    servers.push(master);
    const masterPort = masterTls.port ?? master.port;
    const replicaTls = await reach();
    const replica = await startRedisServer({ dir: join(dir, 'replica'), appendonly: false, extraArgs: [...replicaTls.args, '--replicaof', '127.0.0.1', String(masterPort)] });
    servers.push(replica);
    const sentinelPorts: number[] = [];
    const sentinelAddresses: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Sentinel rewrites its config file as it learns the topology: it must be its own, and writable.
      const configFile = join(dir, `sentinel-${i}.conf`);
      writeFileSync(configFile, [
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 3000`,
        '',
      ].join('\n'));
      const sentinelTls = await reach();
      const sentinel = await startRedisServer({ dir: join(dir, `sentinel-${i}`), appendonly: false, configFile, extraArgs: [...sentinelTls.args, '--sentinel'] });
      servers.push(sentinel);
      sentinelPorts.push(sentinel.port);
      sentinelAddresses.push(`127.0.0.1:${sentinelTls.port ?? sentinel.port}`);
    }
    // Ready once the replica is in sync and every Sentinel knows it: else a failover has no one to promote.
    const deadline = Date.now() + 30_000;
    while (!(await replicaKnown(replica.port, sentinelPorts))) {
      if (Date.now() > deadline) throw new Error('the test replica did not sync, or the Sentinels did not find it, within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (password !== undefined) {
      // The Sentinels and the replica learn the password before the servers require it, so no link breaks.
      for (const port of sentinelPorts) await call(port, ['SENTINEL', 'SET', SENTINEL_MASTER, 'auth-pass', password]);
      await call(replica.port, ['CONFIG', 'SET', 'masterauth', password]);
      for (const port of [replica.port, master.port]) await call(port, ['CONFIG', 'SET', 'requirepass', password]);
    }
    return {
      sentinels: sentinelAddresses.join(','),
      replicaPort: replicaTls.port ?? replica.port,
      pauseReplica: () => void replica.process.kill('SIGSTOP'),
      resumeReplica: () => void replica.process.kill('SIGCONT'),
      currentMaster: async () => Number(((await call(sentinelPorts[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER])) as string[])[1]),
      async restartKilledMaster() {
        servers.push(await startRedisServer({ ...masterOptions, port: master.port }));
      },
      async killMaster() {
        master.process.kill('SIGKILL');
        await master.stop();
      },
    };
  });
}

/** Waits until `redis` can write `key` again (after the master was killed: once the replica is promoted). */
export function writesResume(redis: Redis, key: string, timeoutMs = 30_000): Promise<void> {
  return until(async () => {
    try {
      await redis.set(key, 'written');
      return true;
    } catch {
      return false;
    }
  }, timeoutMs, 'writes after the failover');
}
