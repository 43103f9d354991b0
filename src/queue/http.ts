// The job API, a router any app can mount: read a job (typed by its definition's result schema), follow it as
// Server-Sent Events, abort it. Events come from the job's pub/sub channel with a re-read of its hash at each
// heartbeat, so a listener that missed a message (Redis restarted) still sees the end.
import { randomUUID } from 'node:crypto';
import { Type, type TSchema } from '@sinclair/typebox';
import { HttpError, ProblemSchema } from '../errors.ts';
import { withTimeout, type Redis } from '../redis/index.ts';
import { createRouter, type Dependency } from '../router/index.ts';
import { JOB_STATUSES, TERMINAL_STATUSES, type JobRecord, type JobStatus } from './job.ts';
import { JOB_ID_PATTERN, type Queue } from './queue.ts';

export interface JobsRouterOptions {
  /** Dependencies of DELETE (e.g. an API key); reads are open. */
  abortDeps?: Record<string, Dependency<unknown>>;
  /** Between SSE heartbeat comments, each followed by a re-read of the job (default 15 s). */
  heartbeatMs?: number;
  /** Bounds each Redis call of the event streams (subscribe, register, unsubscribe): REDIS_COMMAND_TIMEOUT_MS
   *  (default 1000 ms). */
  redisTimeoutMs?: number;
}

const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: 'Returned by the endpoint that enqueued the job.' });
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Status = Type.Union(JOB_STATUSES.filter((s) => s !== 'not_found').map((s) => Type.Literal(s)), { description: 'not_found is answered as 404.' });
const AbortAnswer = Type.Object({
  id: JobId,
  status: Type.Union([Type.Literal('aborted'), Type.Literal('aborting')], { description: 'aborted: it was waiting; aborting: its worker is stopping it.' }),
});
const notFound = { description: 'No job has this id, or it finished and expired.', schema: ProblemSchema };
const unavailable = { description: 'Redis does not answer; retry shortly.', schema: ProblemSchema };

/** One response shape per job name, so each job's `result` is typed; a last arm covers names this app lacks. */
function jobSchema(results: [string, TSchema][]): TSchema {
  const common = {
    id: JobId,
    status: Status,
    attempt: Type.Integer({ minimum: 0, description: 'Attempts started so far.' }),
    max_tries: Type.Integer({ minimum: 1 }),
    progress: Type.Union([Type.Number(), Type.Null()], { description: 'Last value the handler reported.' }),
    error: Type.Optional(Type.String({ description: 'Why the last attempt failed, or why the job was aborted.' })),
    enqueued_at: Type.String({ format: 'date-time' }),
    scheduled_for: Time,
    started_at: Time,
    finished_at: Time,
  };
  const arms: TSchema[] = results.map(([name, result]) => Type.Object({ ...common, name: Type.Literal(name), result: Type.Optional(result) }));
  arms.push(Type.Object({ ...common, name: Type.String(), result: Type.Optional(Type.Unknown()) }));
  return Type.Union(arms, { $id: 'Job', description: 'A job: status while it waits and runs, result once complete.' });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function jobView(job: JobRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: job.id, name: job.name, status: job.status, attempt: job.attempt, max_tries: job.maxTries, progress: job.progress,
    enqueued_at: iso(job.enqueuedAt), scheduled_for: iso(job.scheduledFor), started_at: iso(job.startedAt), finished_at: iso(job.finishedAt),
  };
  if (job.error !== null) view.error = job.error;
  if (job.status === 'complete') view.result = job.result;
  return view;
}

/** How long this process's entry in the queue's listeners zset lasts; renewed at a third of that while in use. */
const LISTENING_TTL_MS = 30_000;

/**
 * Subscriptions to job channels over one shared connection, opened for the first listener, closed after the
 * last. While open, the process is registered in the queue's listeners zset, without which workers publish no
 * job events.
 */
class JobChannels {
  #client: Redis | null = null;
  #listeners = 0;
  #renewal: NodeJS.Timeout | undefined;
  readonly #member = randomUUID();
  constructor(private readonly queue: Queue, private readonly timeoutMs: number) {}

  /** Registers (or renews) this process as a listener, pruning registrations that lapsed. */
  #register(): Promise<unknown> {
    const { redis, keys } = this.queue;
    const now = Date.now();
    return redis.multi().zRemRangeByScore(keys.listeners, '-inf', now).zAdd(keys.listeners, { score: now + LISTENING_TTL_MS, value: this.#member }).exec();
  }

  async listen(id: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    this.#listeners++;
    const channel = this.queue.keys.job(id);
    try {
      if (this.#client === null) {
        this.#client = this.queue.redis.duplicate() as unknown as Redis;
        this.#client.on('error', () => {}); // failures surface as 503 on subscribe, or as missed messages
        await withTimeout(this.#client.connect(), this.timeoutMs);
        // Registered before the caller reads the job: every change after that read is published.
        await withTimeout(this.#register(), this.timeoutMs);
        this.#renewal = setInterval(() => void this.#register().catch(() => {}), LISTENING_TTL_MS / 3).unref();
      }
      await withTimeout(this.#client.subscribe(channel, onMessage), this.timeoutMs);
    } catch (err) {
      await this.#release();
      throw HttpError.of('SERVICE_UNAVAILABLE', 'Job events are unavailable; try again shortly.', { cause: err });
    }
    return async () => {
      // Bounded: a hung Redis must not hold the end of an event stream.
      if (this.#client !== null) await withTimeout(this.#client.unsubscribe(channel, onMessage), this.timeoutMs).catch(() => {});
      await this.#release();
    };
  }

  async #release(): Promise<void> {
    if (--this.#listeners > 0 || this.#client === null) return;
    const client = this.#client;
    this.#client = null;
    client.destroy();
    clearInterval(this.#renewal);
    await withTimeout(this.queue.redis.zRem(this.queue.keys.listeners, this.#member), this.timeoutMs).catch(() => {});
  }
}

interface JobEvent { revision: number; status: JobStatus; progress: number | null }

function sse(event: string, revision: number, data: unknown): string {
  return `event: ${event}\nid: ${revision}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function createJobsRouter(queue: Queue, options: JobsRouterOptions = {}) {
  const Job = jobSchema([...queue.jobs.values()].map((d) => [d.name, d.result]));
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const channels = new JobChannels(queue, options.redisTimeoutMs ?? 1000);
  const ById = Type.Object({ id: Type.String({ maxLength: 200 }) });
  const load = async (id: string) => {
    const job = await queue.getJob(id);
    if (job === null) throw HttpError.of('NOT_FOUND', `No job has the id ${id}.`);
    return job;
  };

  async function* follow(first: JobRecord, messages: JobEvent[], wait: (ms: number) => Promise<void>, stop: () => Promise<void>, reload: () => Promise<JobRecord | null>) {
    try {
      let last: JobEvent = { revision: first.revision, status: first.status, progress: first.progress };
      yield `retry: 2000\n\n` + sse('status', first.revision, jobView(first));
      let current: JobEvent | null = TERMINAL_STATUSES.has(first.status) ? null : last;
      while (current !== null) {
        if (messages.length === 0) {
          await wait(heartbeatMs);
          if (messages.length === 0) {
            yield `: heartbeat\n\n`;
            const fresh = await reload().catch(() => undefined);
            if (fresh === undefined || (fresh !== null && fresh.revision <= last.revision)) continue;
            messages.push(fresh === null ? { revision: last.revision + 1, status: 'not_found', progress: last.progress } : fresh);
          }
        }
        const next = messages.shift() as JobEvent;
        if (next.revision <= last.revision) continue;
        if (TERMINAL_STATUSES.has(next.status)) {
          const final = await reload().catch(() => null);
          yield sse('status', next.revision, final ? jobView(final) : { id: first.id, status: next.status });
          current = null;
        } else {
          yield sse(next.status === last.status ? 'progress' : 'status', next.revision, { id: first.id, status: next.status, progress: next.progress });
        }
        last = { ...next, progress: next.progress ?? last.progress };
      }
    } finally {
      await stop();
    }
  }

  const router = createRouter({ prefix: '/jobs', tags: ['jobs'] });
  router.get('/{id}', {
      summary: 'Read a job',
      description: 'Status, progress, attempts, times; `result` once complete, `error` after a failed attempt.',
      operationId: 'getJob',
      params: ById,
      response: { 200: Job, 404: notFound, 503: unavailable },
    }, async (ctx) => jobView(await load(ctx.params.id)));
  router.get('/{id}/events', {
      summary: 'Follow a job (Server-Sent Events)',
      description: 'A `status` event with the job now, then `status` and `progress` events as they happen (the SSE `id` '
        + 'is the job revision), heartbeat comments in between; the stream ends after the terminal status (at once for '
        + 'a finished job).',
      operationId: 'getJobEvents',
      params: ById,
      response: { 200: { description: 'An event stream.', contentType: 'text/event-stream', schema: Type.String() }, 404: notFound, 503: unavailable },
    }, async (ctx) => {
      const messages: JobEvent[] = [];
      let wake: (() => void) | null = null;
      const stop = await channels.listen(ctx.params.id, (message) => {
        const [rev, status, progress] = message.split(' ');
        messages.push({ revision: Number(rev), status: status as JobStatus, progress: progress === undefined ? null : Number(progress) });
        wake?.();
      });
      let first: JobRecord;
      try {
        first = await load(ctx.params.id);
      } catch (err) {
        await stop();
        throw err;
      }
      const wait = (ms: number) => new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = null;
          ctx.signal.removeEventListener('abort', done);
          resolve();
        }
        wake = done;
        ctx.signal.addEventListener('abort', done);
      });
      const reload = () => queue.getJob(ctx.params.id);
      return ctx.stream(200, follow(first, messages, wait, stop, reload), { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    });
  router.delete('/{id}', {
      summary: 'Abort a job',
      description: 'A waiting job ends `aborted` at once; a running one is signalled and ends `aborted` shortly. '
        + 'A job that already finished answers 409.',
      operationId: 'abortJob',
      params: ById,
      deps: (options.abortDeps ?? {}) as Record<string, Dependency<unknown>>,
      response: {
        202: AbortAnswer,
        404: notFound,
        409: { description: 'The job already finished.', schema: ProblemSchema },
        503: unavailable,
      },
    }, async (ctx) => {
      const { id } = ctx.params;
      const outcome = await queue.abort(id);
      if (outcome === 'not_found') throw HttpError.of('NOT_FOUND', `No job has the id ${id}.`);
      if (outcome === 'aborting' || outcome === 'aborted') return { id, status: outcome };
      throw HttpError.of('CONFLICT', `The job already ended ${outcome}.`);
    });
  return router;
}
