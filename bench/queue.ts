// `npm run bench:queue`: skiff's queue against BullMQ 6 on one private redis-server, one worker process each at
// concurrency 50, in interleaved rounds; each keeps the newest 10 000 finished jobs (skiff's default retention,
// BullMQ's removeOnComplete; BENCH_BULLMQ_KEEP_ALL=1 runs BullMQ on its default of keeping all). Per round and system: enqueue N no-op jobs with 100 in flight (no
// worker consuming), then start the worker and time the drain — its steady rate, from 10 % to 90 % of the jobs
// finished, so neither system's worker start-up (connections, first reads) counts as processing; the start-up, to
// the first finished job, is shown apart; then enqueue→complete latency at a fixed modest
// rate; Redis memory per finished job; and the CPU µs per job of the worker process and of redis-server, from
// /proc, while it drains (Redis's also while jobs are enqueued). Prints a table of medians and, last, a JSON
// line of median ratios and CPU per processed job.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue as BullQueue } from 'bullmq';
import { createClient } from 'redis';
import { createLogger } from '../src/log.ts';
import { createRedis, startRedisServer } from '../src/redis/index.ts';
import { createQueue } from '../src/queue/index.ts';
import { median, medianRatio, round2 } from './load.ts';
import { cpuMeter } from './support/cpu.ts';
import { BENCH_QUEUE, BULLMQ_KEEP, PREFIX, noop } from './queue/jobs.ts';

const N = Number(process.env.BENCH_JOBS ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const IN_FLIGHT = 100;
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 500);
const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 1000);
/**
 * BullMQ keeps finished jobs as skiff does by default: the newest 10 000 (removeOnComplete, as BullMQ's docs advise
 * for production). BENCH_BULLMQ_KEEP_ALL=1: its own default, every job kept forever.
 */
const BULLMQ_KEEP_ALL = process.env.BENCH_BULLMQ_KEEP_ALL === '1';

type System = 'skiff' | 'bullmq';
interface Sample {
  enqueuePerS: number;
  /** Jobs finished per second between 10 % and 90 % of the drain. */
  processPerS: number;
  /** ms from telling the worker to start to its first finished job. */
  startMs: number;
  p50: number;
  p99: number;
  bytesPerJob: number;
  /** CPU µs per job: the worker's and Redis's while the N jobs drain, Redis's while they are enqueued. */
  workerCpuUs: number;
  redisCpuUs: number;
  redisEnqueueCpuUs: number;
}

const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-queue-'));
const server = await startRedisServer({ dir, appendonly: false });
const children = new Set<ChildProcess>();
// Never leave the private Redis or a worker behind, whatever happens.
process.once('exit', () => {
  server.process.kill('SIGKILL');
  for (const child of children) child.kill('SIGKILL');
});
const admin = createClient({ url: server.url });
await admin.connect();
const log = createLogger('warn');
const redis = createRedis({ url: server.url, commandTimeoutMs: 5000, log, name: 'bench-producer' });
while (!redis.isReady) await new Promise((r) => setTimeout(r, 10));
const skiff = createQueue({ redis, prefix: PREFIX, name: BENCH_QUEUE, jobs: [noop], commandTimeoutMs: 5000 });
const { hostname, port } = new URL(server.url);
const bull = new BullQueue(BENCH_QUEUE, { connection: { host: hostname, port: Number(port) }, ...(BULLMQ_KEEP_ALL ? {} : { defaultJobOptions: { removeOnComplete: { count: BULLMQ_KEEP } } }) });
await bull.waitUntilReady();

const enqueue: Record<System, (i: number) => Promise<string>> = {
  skiff: async (i) => (await skiff.enqueue(noop, { i })).id,
  bullmq: async (i) => (await bull.add('noop', { i })).id as string,
};
const finished: Record<System, () => Promise<number>> = {
  skiff: async () => Number((await admin.hGet(skiff.keys.stats, 'processed')) ?? 0),
  // Jobs added (BullMQ's ids count up from 1) less those waiting or running, read in one transaction.
  bullmq: async () => {
    const [added, waiting, active] = await admin.multi().get(`bull:${BENCH_QUEUE}:id`).lLen(`bull:${BENCH_QUEUE}:wait`).lLen(`bull:${BENCH_QUEUE}:active`).exec();
    return Number(added ?? 0) - Number(waiting) - Number(active);
  },
};
/** enqueue→complete in ms, from what each system stores about a finished job. */
const latency: Record<System, (id: string) => Promise<number>> = {
  skiff: async (id) => {
    const [at, done] = await admin.hmGet(skiff.keys.job(id), ['enqueued_at', 'finished_at']);
    return Number(done) - Number(at);
  },
  bullmq: async (id) => {
    const [at, done] = await admin.hmGet(`bull:${BENCH_QUEUE}:${id}`, ['timestamp', 'finishedOn']);
    return Number(done) - Number(at);
  },
};

async function pool(count: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await task(next++);
  }));
}

function startWorker(system: System): Promise<ChildProcess> {
  const child = fork(new URL('./queue/worker.ts', import.meta.url), [system, server.url], { execArgv: ['--import', 'tsx'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${system} worker exited with ${code}`)));
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.send('stop');
  await exited;
}

async function waitFinished(system: System, count: number): Promise<void> {
  while ((await finished[system]()) < count) await new Promise((r) => setTimeout(r, 5));
}

/** Polls the finished count every ms until all `count` are done: when the first, 10 % and 90 % of them were. */
async function drain(system: System, count: number, from: number): Promise<{ startMs: number; perS: number }> {
  const marks = [1, Math.ceil(count / 10), Math.floor((count * 9) / 10), count];
  const at: number[] = [];
  while (at.length < marks.length) {
    const done = await finished[system]();
    while (at.length < marks.length && done >= marks[at.length]) at.push(performance.now());
    if (at.length < marks.length) await new Promise((r) => setTimeout(r, 1));
  }
  return { startMs: at[0] - from, perS: ((marks[2] - marks[1]) / (at[2] - at[1])) * 1000 };
}

async function measure(system: System): Promise<Sample> {
  await admin.flushAll();
  if (system === 'skiff') await skiff.ensureGroup();
  const child = await startWorker(system);
  try {
    const memBefore = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    let t = performance.now();
    const enqueueCpu = cpuMeter([server.process.pid!]);
    await pool(N, IN_FLIGHT, enqueue[system]);
    const [redisEnqueueCpuUs] = enqueueCpu.perUnit(N);
    const enqueueMs = performance.now() - t;
    t = performance.now();
    const processCpu = cpuMeter([child.pid!, server.process.pid!]);
    child.send('start');
    const drained = await drain(system, N, t);
    const [workerCpuUs, redisCpuUs] = processCpu.perUnit(N);
    const memAfter = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    // Latency at a fixed modest rate, worker already running.
    const ids: string[] = [];
    const start = performance.now();
    await Promise.all(Array.from({ length: LATENCY_JOBS }, async (_, i) => {
      const due = start + (i * 1000) / LATENCY_RATE;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      ids.push(await enqueue[system](N + i));
    }));
    await waitFinished(system, N + LATENCY_JOBS);
    const lat = (await Promise.all(ids.map(latency[system]))).sort((a, b) => a - b);
    return {
      enqueuePerS: (N / enqueueMs) * 1000,
      processPerS: drained.perS,
      startMs: drained.startMs,
      p50: lat[Math.floor(lat.length * 0.5)],
      p99: lat[Math.floor(lat.length * 0.99)],
      bytesPerJob: (memAfter - memBefore) / N,
      workerCpuUs,
      redisCpuUs,
      redisEnqueueCpuUs,
    };
  } finally {
    await stopWorker(child);
  }
}

console.log(`# bench:queue — ${rounds} rounds, N=${N} no-op jobs, ${IN_FLIGHT} enqueues in flight, worker concurrency 50; latency at ${LATENCY_RATE}/s; Node ${process.version}`);
const samples: Record<System, Sample[]> = { skiff: [], bullmq: [] };
try {
  await measure('skiff'); // warm-up: Redis allocator, script cache, JIT
  await measure('bullmq');
  for (let round = 0; round < rounds; round++) {
    const order: System[] = round % 2 === 0 ? ['skiff', 'bullmq'] : ['bullmq', 'skiff'];
    for (const system of order) samples[system].push(await measure(system));
    const s = samples.skiff.at(-1)!;
    const b = samples.bullmq.at(-1)!;
    console.log(`round ${round + 1}/${rounds}: enqueue ${Math.round(s.enqueuePerS)} vs ${Math.round(b.enqueuePerS)}/s, process ${Math.round(s.processPerS)} vs ${Math.round(b.processPerS)}/s`);
  }
} finally {
  await bull.close();
  await redis.close();
  await admin.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

const med = (system: System, f: (s: Sample) => number) => median(samples[system].map(f));
console.log('\n| system | enqueue jobs/s | process jobs/s | worker start ms | latency p50 ms | latency p99 ms | Redis bytes per finished job | worker CPU µs/job | Redis CPU µs/job (process) | Redis CPU µs/job (enqueue) |\n|---|---|---|---|---|---|---|---|---|---|');
for (const system of ['skiff', 'bullmq'] as const) {
  const cpu = (f: (s: Sample) => number) => round2(med(system, f));
  console.log(`| ${system} | ${Math.round(med(system, (s) => s.enqueuePerS))} | ${Math.round(med(system, (s) => s.processPerS))} | ${round2(med(system, (s) => s.startMs))} | ${med(system, (s) => s.p50)} | ${med(system, (s) => s.p99)} | ${Math.round(med(system, (s) => s.bytesPerJob))} | ${cpu((s) => s.workerCpuUs)} | ${cpu((s) => s.redisCpuUs)} | ${cpu((s) => s.redisEnqueueCpuUs)} |`);
}
const ratio = (f: (s: Sample) => number) => medianRatio(samples.skiff.map(f), samples.bullmq.map(f));
const cpuPerJob = (f: (s: Sample) => number) => ({ skiff: round2(med('skiff', f)), bullmq: round2(med('bullmq', f)) });
console.log(JSON.stringify({
  process_vs_bullmq: ratio((s) => s.processPerS),
  enqueue_vs_bullmq: ratio((s) => s.enqueuePerS),
  redis_cpu_us_per_job: cpuPerJob((s) => s.redisCpuUs),
  worker_cpu_us_per_job: cpuPerJob((s) => s.workerCpuUs),
}));
