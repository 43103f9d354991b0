// The job API, a router any app can mount: read a job (typed by its definition's result schema), follow it as
// Server-Sent Events, abort it. Events come from the job's pub/sub channel with a re-read of its hash at each
// heartbeat, so a listener that missed a message (Redis restarted) still sees the end.
import { Type, type TSchema } from '@sinclair/typebox';
import { HttpError, ProblemSchema } from '../errors.ts';
import { createRouter, type Dependency, type RequestContext } from '../router/index.ts';
import { JobChannels } from './channels.ts';
import { JOB_STATUSES, TERMINAL_STATUSES, jobVisibleTo, type JobRecord, type JobStatus } from './job.ts';
import { JOB_ID_PATTERN, type Queue } from './queue.ts';

export interface JobsRouterOptions {
  /**
   * Dependencies of every job route, e.g. an API key: the principal one names (`ctx.principal`) sees the jobs it
   * owns and the jobs nobody owns; any other job is a 404, as if it did not exist.
   */
  deps?: Record<string, Dependency<unknown>>;
  /** Callers who see every job (operators); default nobody. */
  isOperator?: (ctx: RequestContext) => boolean;
  /** Between SSE heartbeat comments, each followed by a re-read of the job (default 15 s). */
  heartbeatMs?: number;
  /**
   * Bounds each Redis call an event stream makes when it ends, after its request: REDIS_COMMAND_TIMEOUT_MS
   * (default 1000 ms). The calls before it starts share the request's deadline (`ctx.deadline`).
   */
  redisTimeoutMs?: number;
  /** Event streams this process holds at once; past it, 503 with Retry-After (default 1000). */
  maxStreams?: number;
}

const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: 'Returned by the endpoint that enqueued the job.' });
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Status = Type.Union(JOB_STATUSES.filter((s) => s !== 'not_found').map((s) => Type.Literal(s)), { description: 'not_found is answered as 404.' });
const AbortAnswer = Type.Object({
  id: JobId,
  status: Type.Union([Type.Literal('aborted'), Type.Literal('aborting')], { description: 'aborted: it was waiting; aborting: its worker is stopping it.' }),
});
const notFound = { description: 'No job has this id that you may see, or it finished and expired.', schema: ProblemSchema };
const unavailable = { description: 'Redis does not answer; retry shortly.', schema: ProblemSchema };
const streamsUnavailable = {
  description: 'Redis does not answer, or this server holds as many event streams as it may (then with `Retry-After`); retry shortly.',
  schema: ProblemSchema,
  headers: { 'retry-after': { description: 'Seconds to wait, when the server is full.', schema: Type.Integer() } },
};

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

interface JobEvent { revision: number; status: JobStatus; progress: number | null }

function sse(event: string, revision: number, data: unknown): string {
  return `event: ${event}\nid: ${revision}\ndata: ${JSON.stringify(data)}\n\n`;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
/** The last event of a stream the server ends because it is stopping: reconnect soon (another process answers). */
const SHUTDOWN_EVENT = `event: end\nretry: 500\ndata: {"reason":"shutting_down"}\n\n`;

/** A job's messages as they arrive for one stream, and a wait that wakes on a message, a leaving client or the drain. */
class Inbox {
  readonly events: JobEvent[] = [];
  #wake: (() => void) | null = null;
  constructor(private readonly ctx: RequestContext) {}

  readonly push = (message: string): void => {
    const [rev, status, progress] = message.split(' ');
    this.events.push({ revision: Number(rev), status: status as JobStatus, progress: progress === undefined ? null : Number(progress) });
    this.#wake?.();
  };

  wait(ms: number): Promise<void> {
    const { signal, draining } = this.ctx;
    // An aborted signal fires no more: a drain that began while the stream was busy must not wait a heartbeat.
    if (signal.aborted || draining.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        signal.removeEventListener('abort', done);
        draining.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
      signal.addEventListener('abort', done);
      draining.addEventListener('abort', done);
    });
  }
}

export function createJobsRouter(queue: Queue, options: JobsRouterOptions = {}) {
  const Job = jobSchema([...queue.jobs.values()].map((d) => [d.name, d.result]));
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const channels = new JobChannels(queue, options.redisTimeoutMs ?? 1000, options.maxStreams ?? 1000);
  // The pattern is checked with the other inputs, before any Redis call: a malformed id is a 422.
  const ById = Type.Object({ id: JobId });
  const deps = options.deps ?? {};
  const isOperator = options.isOperator ?? (() => false);
  const missing = (id: string) => HttpError.of('NOT_FOUND', `No job has the id ${id}.`);
  /** The job, if this caller may see it; another principal's job answers exactly like a missing one. */
  const load = async (id: string, ctx: RequestContext) => {
    const job = await queue.getJob(id);
    if (job === null || !jobVisibleTo(job, ctx.principal, isOperator(ctx))) throw missing(id);
    return job;
  };

  /** The stream after its first event: messages in revision order, a heartbeat and re-read when quiet. */
  async function* follow(ctx: RequestContext, first: JobRecord, inbox: Inbox) {
    const messages = inbox.events;
    const reload = () => queue.getJob(first.id);
    let last: JobEvent = { revision: first.revision, status: first.status, progress: first.progress };
    yield `retry: 2000\n\n` + sse('status', first.revision, jobView(first));
    let current: JobEvent | null = TERMINAL_STATUSES.has(first.status) ? null : last;
    while (current !== null) {
      if (messages.length === 0) {
        await inbox.wait(heartbeatMs);
        if (ctx.draining.aborted) {
          yield SHUTDOWN_EVENT;
          return;
        }
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
  }

  const router = createRouter({ prefix: '/jobs', tags: ['jobs'] });
  router.get('/{id}', {
      summary: 'Read a job',
      description: 'Status, progress, attempts, times; `result` once complete, `error` after a failed attempt.',
      operationId: 'getJob',
      params: ById,
      deps,
      response: { 200: Job, 404: notFound, 503: unavailable },
    }, async (ctx) => jobView(await load(ctx.params.id, ctx)));
  router.get('/{id}/events', {
      summary: 'Follow a job (Server-Sent Events)',
      description: 'A `status` event with the job now, then `status` and `progress` events as they happen (the SSE `id` '
        + 'is the job revision), heartbeat comments in between; the stream ends after the terminal status (at once for '
        + 'a finished job). When the server stops, an `end` event (`{"reason":"shutting_down"}`, `retry: 500`) ends the '
        + 'stream: reconnect.',
      operationId: 'getJobEvents',
      params: ById,
      deps,
      response: { 200: { description: 'An event stream.', contentType: 'text/event-stream', schema: Type.String() }, 404: notFound, 503: streamsUnavailable },
    }, async (ctx) => {
      const { id } = ctx.params;
      // HEAD: the GET's status and headers from one read; no subscription, no stream slot (the core never
      // starts a HEAD body).
      if (ctx.method === 'HEAD') {
        await ctx.deadline.bound(load(id, ctx));
        return ctx.stream(200, (async function* () {})(), SSE_HEADERS);
      }
      const inbox = new Inbox(ctx);
      // Subscribing and the first read share the request's one Redis deadline.
      const stop = await channels.listen(id, inbox.push, (pending) => ctx.deadline.bound(pending));
      let first: JobRecord;
      try {
        first = await ctx.deadline.bound(load(id, ctx));
      } catch (err) {
        await stop();
        throw err;
      }
      // From here the core owns the stream: `stop` runs once however it ends (client gone, drain, error).
      return ctx.stream(200, follow(ctx, first, inbox), SSE_HEADERS, { onClose: stop });
    });
  router.delete('/{id}', {
      summary: 'Abort a job',
      description: 'A waiting job ends `aborted` at once; a running one is signalled and ends `aborted` shortly. '
        + 'A job that already finished answers 409.',
      operationId: 'abortJob',
      params: ById,
      deps,
      response: {
        202: AbortAnswer,
        404: notFound,
        409: { description: 'The job already finished.', schema: ProblemSchema },
        503: unavailable,
      },
    }, async (ctx) => {
      const { id } = ctx.params;
      const outcome = await queue.abort(id, { principal: ctx.principal, operator: isOperator(ctx) });
      if (outcome === 'not_found') throw missing(id);
      if (outcome === 'aborting' || outcome === 'aborted') return { id, status: outcome };
      throw HttpError.of('CONFLICT', `The job already ended ${outcome}.`);
    });
  return router;
}
