// Job definitions shared by the queue tests and the worker processes they spawn. Each run leaves a trace
// (RPUSH runs:<id> "<worker>:<attempt>") so tests can count executions across processes.
import { Type } from '@sinclair/typebox';
import { defineJob, type JobContext } from '../../src/queue/index.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

const trace = (ctx: JobContext) => ctx.redis.rPush(`runs:${ctx.jobId}`, `${process.env.WORKER_ID ?? 'inproc'}:${ctx.attempt}`);

export const echo = defineJob({
  name: 'test.echo',
  payload: Type.Object({ value: Type.String({ minLength: 1 }), n: Type.Optional(Type.Integer()) }),
  result: Type.Object({ value: Type.String() }),
  keepResultS: 600,
  handler: async ({ value }) => ({ value }),
});

export const nap = defineJob({
  name: 'test.nap',
  // firstMs: how long the first attempt takes, when it differs (a crash test re-runs it quickly).
  payload: Type.Object({ ms: Type.Integer({ minimum: 0 }), firstMs: Type.Optional(Type.Integer({ minimum: 0 })), ignoreSignal: Type.Optional(Type.Boolean()) }),
  result: Type.Object({ worker: Type.String(), attempt: Type.Integer() }),
  maxTries: 5,
  backoff: { kind: 'fixed', baseMs: 20, jitter: 0 },
  handler: async ({ ms, firstMs, ignoreSignal }, ctx) => {
    await trace(ctx);
    await sleep(ctx.attempt === 1 ? (firstMs ?? ms) : ms, ignoreSignal ? undefined : ctx.signal);
    return { worker: process.env.WORKER_ID ?? 'inproc', attempt: ctx.attempt };
  },
});

export const flaky = defineJob({
  name: 'test.flaky',
  payload: Type.Object({ failures: Type.Integer({ minimum: 0 }) }),
  result: Type.Object({ attempt: Type.Integer() }),
  maxTries: 3,
  backoff: { kind: 'exponential', baseMs: 50, maxMs: 200, jitter: 0 },
  handler: async ({ failures }, ctx) => {
    await trace(ctx);
    if (ctx.attempt <= failures) throw new Error(`failure ${ctx.attempt}`);
    return { attempt: ctx.attempt };
  },
});

export const slowTimeout = defineJob({
  name: 'test.timeout',
  payload: Type.Object({}),
  timeoutMs: 150,
  maxTries: 1,
  handler: async (_p, ctx) => {
    await sleep(60_000, ctx.signal);
    return null;
  },
});

export const progress = defineJob({
  name: 'test.progress',
  payload: Type.Object({ steps: Type.Integer({ minimum: 1 }), delayMs: Type.Integer({ minimum: 0 }) }),
  result: Type.Object({ steps: Type.Integer() }),
  handler: async ({ steps, delayMs }, ctx) => {
    for (let i = 1; i <= steps; i++) {
      await sleep(delayMs, ctx.signal);
      await ctx.progress(i);
    }
    return { steps };
  },
});

export const tick = defineJob({
  name: 'test.tick',
  payload: Type.Object({}),
  handler: async (_p, ctx) => {
    await ctx.redis.rPush('ticks', ctx.jobId);
    return null;
  },
});

/**
 * A job of a group (its tenant) allowed `concurrency` at once. While its handler runs, its id is in the set
 * `running:<tenant>`; each run appends the set's size after joining it to `seen:<tenant>` (the most seen is the
 * most that ran at once). A first attempt can take longer (firstMs) or attempts can fail (failures).
 */
const grouped = (name: string, concurrency: number) => defineJob({
  name,
  payload: Type.Object({ tenant: Type.String({ minLength: 1 }), ms: Type.Integer({ minimum: 0 }), firstMs: Type.Optional(Type.Integer({ minimum: 0 })), failures: Type.Optional(Type.Integer({ minimum: 0 })) }),
  group: (p) => p.tenant,
  groupConcurrency: concurrency,
  maxTries: 3,
  backoff: { kind: 'fixed', baseMs: 20, jitter: 0 },
  handler: async ({ tenant, ms, firstMs, failures }, ctx) => {
    await trace(ctx);
    const running = `running:${tenant}`;
    await ctx.redis.sAdd(running, ctx.jobId);
    await ctx.redis.rPush(`seen:${tenant}`, String(await ctx.redis.sCard(running)));
    try {
      await sleep(ctx.attempt === 1 ? (firstMs ?? ms) : ms, ctx.signal);
      if (ctx.attempt <= (failures ?? 0)) throw new Error(`failure ${ctx.attempt}`);
    } finally {
      await ctx.redis.sRem(running, ctx.jobId);
    }
    return null;
  },
});

/** Two of a tenant at once. */
export const tenantJob = grouped('test.tenant', 2);
/** One of a tenant at once. */
export const soloJob = grouped('test.solo', 1);

export const TEST_JOBS = [echo, nap, flaky, slowTimeout, progress, tick, tenantJob, soloJob];
