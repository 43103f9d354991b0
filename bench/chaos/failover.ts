// A Redis failover under load: the example service (API + 2 queue workers) on a 3-master / 3-replica cluster or
// on a master + replica watched by 3 Sentinels (the test topologies of test/support), open-loop cached reads, item
// writes and exports (enqueues, each with an Idempotency-Key); then SIGKILL of the master that holds the queue's
// slot (cluster) or of the Sentinel master, started again (empty) a few seconds later. Measured: how long until enqueues succeed again, what failed, 5xx
// other than 503, which acknowledged jobs are gone after it (lost with the master: replication is asynchronous),
// and which ran twice.
import { createLogger } from '../../src/log.ts';
import { createQueue, queueKeys, TERMINAL_STATUSES, type JobRecord } from '../../src/queue/index.ts';
import { closeRedis, createRedis, type Redis } from '../../src/redis/index.ts';
import { loadConfig } from '../../src/config.ts';
import { startTestCluster } from '../../test/support/redis-cluster.ts';
import { SENTINEL_MASTER, startTestSentinels } from '../../test/support/redis-sentinel.ts';
import { maxOf, openLoop, sleep, type Call, type LoadClient, type Outcome } from './load.ts';
import { API_KEY, PREFIX, startService, trackForCleanUp, type StackOptions } from './stack.ts';

export type Topology = 'cluster' | 'sentinel';

export interface FailoverOptions {
  topology: Topology;
  /** QUEUE_WAIT_REPLICAS: 0 (asynchronous replication only) or 1. */
  waitReplicas: number;
  /** Load before the kill. */
  calmMs: number;
  /** Load after enqueues succeed again. */
  afterMs: number;
  /** Give up waiting for enqueues to succeed after this long. */
  recoverWithinMs: number;
  /** The killed node is started again this long after the kill. */
  restartAfterMs: number;
  /** Multiplies every client's request rate. */
  rateScale: number;
  stack: StackOptions;
}

export interface FailoverResult {
  topology: Topology;
  waitReplicas: number;
  requests: number;
  /** From the kill to the first enqueue answered 202 after which none failed; null: never within the bound. */
  recoveryS: number | null;
  /** Requests answered 5xx or not at all. */
  failed: number;
  /** Of those, 5xx other than 503, or no answer: the target is 0. */
  errors: number;
  /** Status counts of the failed requests, by route. */
  failures: Record<string, Record<string, number>>;
  enqueued: number;
  /** Enqueues answered 202 whose job record is gone after the failover. */
  lost: number;
  /** Acknowledged jobs not ended when the wait ended. */
  stuck: number;
  /** Jobs that ran more than once: a second attempt on record, or a settle the promoted master no longer matched. */
  ranTwice: number;
  /** Enqueues answered 503 OUTCOME_UNKNOWN (a WAIT that timed out, or no answer from Redis). */
  unknown503: number;
}

function clients(run: string, scale: number): LoadClient[] {
  const auth = { 'x-api-key': API_KEY };
  const list: LoadClient[] = [
    { name: 'GET /v1/items', ratePerS: 20, next: () => ({ method: 'GET', path: '/v1/items?tag=seed&limit=10' }) },
    { name: 'POST /v1/items', ratePerS: 10, next: (i) => ({ method: 'POST', path: '/v1/items', body: { name: `${run}-item-${i}`, price: 1, tags: ['chaos'] }, headers: auth }) },
    {
      name: 'POST /v1/exports', ratePerS: 20,
      // A tag no item carries: each export job is short, so the queue's own work is what is measured.
      next: (i): Call => ({ method: 'POST', path: '/v1/exports', body: { format: 'ndjson', tag: `${run}-${i}` }, headers: { ...auth, 'idempotency-key': `${run}-export-${i}` } }),
    },
    { name: 'GET /readyz', ratePerS: 2, next: () => ({ method: 'GET', path: '/readyz' }) },
  ];
  return list.map((c) => ({ ...c, ratePerS: c.ratePerS * scale }));
}

interface Topo {
  env: Record<string, string>;
  kill(): Promise<void>;
  /** The killed node back on its port, empty (as a supervisor would restart it): it rejoins as a replica. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startTopology(topology: Topology): Promise<Topo> {
  if (topology === 'cluster') {
    const cluster = await startTestCluster();
    const untrack = trackForCleanUp(() => cluster.hardKill());
    return {
      env: { REDIS_CLUSTER_NODES: cluster.nodes },
      kill: async () => void (await cluster.killSlotMaster(queueKeys(PREFIX, 'default').stream)),
      restart: () => cluster.restartKilled(),
      stop: () => cluster.stop().finally(untrack),
    };
  }
  const sentinels = await startTestSentinels();
  const untrack = trackForCleanUp(() => sentinels.hardKill());
  return {
    env: { REDIS_SENTINELS: sentinels.sentinels, REDIS_SENTINEL_MASTER: SENTINEL_MASTER },
    kill: () => sentinels.killMaster(),
    restart: () => sentinels.restartKilledMaster(),
    stop: () => sentinels.stop().finally(untrack),
  };
}

const isEnqueue = (o: Outcome) => o.path === '/v1/exports' && o.method === 'POST';
const failedAnswer = (o: Outcome) => o.status === 0 || o.status >= 500;

/** Waits (up to `timeoutMs`) until every acknowledged job has ended or is gone; returns the records. */
async function finalRecords(redis: Redis, ids: string[], timeoutMs: number): Promise<Map<string, JobRecord | null>> {
  const queue = createQueue({ redis, prefix: PREFIX, name: 'default', jobs: [], commandTimeoutMs: 10_000 });
  const terminal = new Set<string>(TERMINAL_STATUSES);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = new Map<string, JobRecord | null>();
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const got = await Promise.all(chunk.map((id) => queue.getJob(id)));
      chunk.forEach((id, j) => records.set(id, got[j]!));
    }
    const open = [...records.values()].filter((r) => r !== null && !terminal.has(r.status)).length;
    if (open === 0 || Date.now() > deadline) return records;
    await sleep(500);
  }
}

export async function failoverScenario(options: FailoverOptions, progress: (msg: string) => void): Promise<FailoverResult> {
  const run = `fo${Date.now().toString(36)}`;
  const topo = await startTopology(options.topology);
  let inspector: Redis | null = null;
  try {
    const service = await startService(topo.env, { ...options.stack, env: { ...options.stack.env, QUEUE_WAIT_REPLICAS: String(options.waitReplicas) } });
    try {
      const config = loadConfig(topo.env);
      inspector = createRedis({ url: '', topology: config.redisTopology, commandTimeoutMs: 5000, log: createLogger('silent'), name: 'chaos-inspector' });
      const load = openLoop(service.url, clients(run, options.rateScale));
      await sleep(options.calmMs);
      const killedAt = Date.now();
      progress(`${options.topology}, QUEUE_WAIT_REPLICAS=${options.waitReplicas}: killing the master`);
      await topo.kill();
      const restarted = sleep(options.restartAfterMs).then(() => topo.restart());
      // Enqueues succeed again: the last enqueue sent so far answered 202, and 2 s of them since with no failure.
      const recovered = (): number | null => {
        const enqueues = load.outcomes.filter((o) => isEnqueue(o) && o.start >= killedAt).sort((a, b) => a.start - b.start);
        const lastFailed = maxOf(enqueues.filter(failedAnswer).map((o) => o.start));
        const firstOk = enqueues.find((o) => o.start >= lastFailed && o.status === 202);
        const settled = enqueues.length > 0 && enqueues.at(-1)!.status === 202 && enqueues.at(-1)!.start - (firstOk?.start ?? Infinity) >= 2000;
        return settled && firstOk ? firstOk.start : null;
      };
      let okAt: number | null = null;
      while (okAt === null && Date.now() - killedAt < options.recoverWithinMs) {
        await sleep(250);
        okAt = recovered();
      }
      await restarted;
      await sleep(options.afterMs);
      const done = await load.stop();
      progress(`${options.topology}, QUEUE_WAIT_REPLICAS=${options.waitReplicas}: ${done.length} requests; checking the jobs`);

      const failures: Record<string, Record<string, number>> = {};
      for (const o of done.filter(failedAnswer)) {
        const route = (failures[`${o.method} ${o.path.split('?')[0]}`] ??= {});
        route[o.status] = (route[o.status] ?? 0) + 1;
      }
      const accepted = done.filter((o) => isEnqueue(o) && o.status === 202).map((o) => (JSON.parse(o.text) as { id: string }).id);
      const ids = [...new Set(accepted)];
      while (!inspector.isReady) await sleep(50);
      const records = await finalRecords(inspector, ids, 30_000 + 3 * service.leaseMs);
      const terminal = new Set<string>(TERMINAL_STATUSES);
      // A settle the promoted master did not match: the attempt had started on the dead master, and the job runs again.
      const stale = new Set(service.workers!.lines.filter((l) => String(l.msg).startsWith('stale attempt ignored')).map((l) => String(l.job)));
      const ranTwice = ids.filter((id) => (records.get(id)?.attempt ?? 0) > 1 || stale.has(id)).length;
      return {
        topology: options.topology,
        waitReplicas: options.waitReplicas,
        requests: done.length,
        recoveryS: okAt === null ? null : Math.round((okAt - killedAt) / 100) / 10,
        failed: done.filter(failedAnswer).length,
        errors: done.filter((o) => o.status === 0 || (o.status >= 500 && o.status !== 503)).length,
        failures,
        enqueued: ids.length,
        lost: [...records.values()].filter((r) => r === null).length,
        stuck: [...records.values()].filter((r) => r !== null && !terminal.has(r.status)).length,
        ranTwice,
        unknown503: done.filter((o) => isEnqueue(o) && o.status === 503 && o.text.includes('OUTCOME_UNKNOWN')).length,
      };
    } finally {
      await service.stop();
    }
  } finally {
    if (inspector) await closeRedis(inspector);
    await topo.stop();
  }
}
