// `npm run bench:replicas`: what QUEUE_WAIT_REPLICAS=1 costs. A private master and one replica on loopback; per
// round and mode (WAIT off / on, interleaved): enqueue latency one at a time and with 50 in flight (p50, p99 ms),
// and how fast one in-process worker (concurrency 50) drains N no-op jobs, each settle followed by a WAIT when on.
// Loopback replication is the cheapest there is: on a network, add its round trip to each WAIT. Prints a table of
// medians and, last, a JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.ts';
import { createQueue, startWorker, type Queue } from '../src/queue/index.ts';
import { closeRedis, createRedis, startRedisServer, type Redis } from '../src/redis/index.ts';
import { median, round2 } from './load.ts';
import { BENCH_QUEUE, CONCURRENCY, PREFIX, noop } from './queue/jobs.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const SERIAL = Number(process.env.BENCH_SERIAL ?? 1000);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 10_000);
const IN_FLIGHT = 50;
const DRAIN = Number(process.env.BENCH_JOBS ?? 10_000);

const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-replicas-'));
const master = await startRedisServer({ dir: join(dir, 'master'), appendonly: false });
const replica = await startRedisServer({ dir: join(dir, 'replica'), appendonly: false, extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
process.once('exit', () => {
  master.process.kill('SIGKILL');
  replica.process.kill('SIGKILL');
});
const log = createLogger('warn');
const connect = async (name: string): Promise<Redis> => {
  const client = createRedis({ url: master.url, commandTimeoutMs: 5000, log, name });
  while (!client.isReady) await new Promise((r) => setTimeout(r, 10));
  return client;
};
const redis = await connect('bench-main');
const writes = await connect('bench-enqueue');
while ((await redis.wait(1, 100)) !== 1) await new Promise((r) => setTimeout(r, 50));

type Mode = 'off' | 'wait';
const queues: Record<Mode, Queue> = {
  off: createQueue({ redis, prefix: PREFIX, name: BENCH_QUEUE, jobs: [noop], commandTimeoutMs: 5000 }),
  wait: createQueue({ redis, prefix: PREFIX, name: BENCH_QUEUE, jobs: [noop], commandTimeoutMs: 5000, replicaAck: { replicas: 1, timeoutMs: 1000, redis: writes } }),
};

interface Sample { serialP50: number; serialP99: number; parallelP50: number; parallelP99: number; enqueuePerS: number; drainPerS: number }

const percentile = (xs: number[], p: number): number => round2([...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)]!);

async function timed(queue: Queue, count: number, inFlight: number): Promise<{ ms: number[]; totalMs: number }> {
  const ms: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await queue.enqueue(noop, { i });
      ms.push(performance.now() - t);
    }
  }));
  return { ms, totalMs: performance.now() - start };
}

async function measure(mode: Mode): Promise<Sample> {
  const queue = queues[mode];
  await redis.flushAll();
  await queue.ensureGroup();
  const serial = await timed(queue, SERIAL, 1);
  const parallel = await timed(queue, PARALLEL, IN_FLIGHT);
  await redis.flushAll();
  await queue.ensureGroup();
  await timed(queues.off, DRAIN, IN_FLIGHT);
  const start = performance.now();
  const worker = startWorker({ queue, consumer: `bench-${mode}`, log, maxJobs: CONCURRENCY, blockMs: 100 });
  while (Number((await redis.hGet(queue.keys.stats, 'processed')) ?? 0) < DRAIN) await new Promise((r) => setTimeout(r, 5));
  const drainMs = performance.now() - start;
  await worker.stop();
  return {
    serialP50: percentile(serial.ms, 0.5), serialP99: percentile(serial.ms, 0.99),
    parallelP50: percentile(parallel.ms, 0.5), parallelP99: percentile(parallel.ms, 0.99),
    enqueuePerS: Math.round((PARALLEL / parallel.totalMs) * 1000),
    drainPerS: Math.round((DRAIN / drainMs) * 1000),
  };
}

console.log(`# bench:replicas — ${rounds} rounds; master + 1 replica on loopback; ${SERIAL} enqueues one at a time, ${PARALLEL} with ${IN_FLIGHT} in flight, ${DRAIN} jobs drained by one worker (concurrency ${CONCURRENCY}); Node ${process.version}`);
const samples: Record<Mode, Sample[]> = { off: [], wait: [] };
try {
  await measure('off');
  await measure('wait');
  for (let round = 0; round < rounds; round++) {
    for (const mode of (round % 2 === 0 ? ['off', 'wait'] : ['wait', 'off']) as Mode[]) samples[mode].push(await measure(mode));
    console.log(`round ${round + 1}/${rounds}: serial p50 ${samples.off.at(-1)!.serialP50} vs ${samples.wait.at(-1)!.serialP50} ms, drain ${samples.off.at(-1)!.drainPerS} vs ${samples.wait.at(-1)!.drainPerS} jobs/s`);
  }
} finally {
  await Promise.all([closeRedis(redis), closeRedis(writes)]);
  await Promise.all([replica.stop(), master.stop()]);
  rmSync(dir, { recursive: true, force: true });
}

const med = (mode: Mode, f: (s: Sample) => number) => round2(median(samples[mode].map(f)));
console.log('\n| QUEUE_WAIT_REPLICAS | enqueue p50 / p99 ms (1 at a time) | enqueue p50 / p99 ms (50 in flight) | enqueues/s (50 in flight) | drain jobs/s (1 worker) |\n|---|---|---|---|---|');
for (const mode of ['off', 'wait'] as const) {
  console.log(`| ${mode === 'off' ? '0' : '1'} | ${med(mode, (s) => s.serialP50)} / ${med(mode, (s) => s.serialP99)} | ${med(mode, (s) => s.parallelP50)} / ${med(mode, (s) => s.parallelP99)} | ${med(mode, (s) => s.enqueuePerS)} | ${med(mode, (s) => s.drainPerS)} |`);
}
const pair = (f: (s: Sample) => number) => ({ off: med('off', f), wait: med('wait', f) });
console.log(JSON.stringify({
  enqueue_p50_ms: pair((s) => s.serialP50), enqueue_p99_ms: pair((s) => s.serialP99),
  enqueue_p50_ms_50_in_flight: pair((s) => s.parallelP50), enqueue_p99_ms_50_in_flight: pair((s) => s.parallelP99),
  enqueues_per_s: pair((s) => s.enqueuePerS), drain_jobs_per_s: pair((s) => s.drainPerS),
}));
