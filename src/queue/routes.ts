// The job API, a router any app can mount: read a job (typed by its definition's result schema), follow it as
// Server-Sent Events (served by events.ts), abort it.
import { Type, type TSchema } from '@sinclair/typebox';
import { HttpError, ProblemSchema } from '../errors.ts';
import { createRouter, type Dependency, type RequestContext } from '../router/index.ts';
import { JobEvents, SSE_HEADERS } from './events.ts';
import { JOB_STATUSES, jobView, jobVisibleTo } from './job.ts';
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

export function createJobsRouter(queue: Queue, options: JobsRouterOptions = {}) {
  const Job = jobSchema([...queue.jobs.values()].map((d) => [d.name, d.result]));
  const events = new JobEvents(queue, {
    heartbeatMs: options.heartbeatMs ?? 15_000,
    redisTimeoutMs: options.redisTimeoutMs ?? 1000,
    maxStreams: options.maxStreams ?? 1000,
  });
  // The pattern is checked with the other inputs, before any Redis call: a malformed id is a 422.
  const ById = Type.Object({ id: JobId });
  const isOperator = options.isOperator ?? (() => false);
  const missing = (id: string) => HttpError.of('NOT_FOUND', `No job has the id ${id}.`);
  /** The job, if this caller may see it; another principal's job answers exactly like a missing one. */
  const load = async (id: string, ctx: RequestContext) => {
    const job = await queue.getJob(id);
    if (job === null || !jobVisibleTo(job, ctx.principal, isOperator(ctx))) throw missing(id);
    return job;
  };

  // The caller's dependencies (authentication) guard every job route.
  const router = createRouter({ prefix: '/jobs', tags: ['jobs'], dependencies: options.deps });
  router.get('/{id}', {
      summary: 'Read a job',
      description: 'Status, progress, attempts, times; `result` once complete, `error` after a failed attempt.',
      operationId: 'getJob',
      params: ById,
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
      response: { 200: { description: 'An event stream.', contentType: 'text/event-stream', schema: Type.String() }, 404: notFound, 503: streamsUnavailable },
    }, async (ctx) => {
      const { id } = ctx.params;
      // HEAD: the GET's status and headers from one read; no subscription, no stream slot (the core never
      // starts a HEAD body).
      if (ctx.method === 'HEAD') {
        await ctx.deadline.bound(load(id, ctx));
        return ctx.stream(200, (async function* () {})(), SSE_HEADERS);
      }
      // Subscribing and the first read share the request's Redis deadline; from the ctx.stream call on, the core
      // owns the stream and runs `close` once however it ends (client gone, drain, error).
      const { body, close } = await events.open(ctx, id, () => load(id, ctx));
      return ctx.stream(200, body, SSE_HEADERS, { onClose: close });
    });
  router.delete('/{id}', {
      summary: 'Abort a job',
      description: 'A waiting job ends `aborted` at once; a running one is signalled and ends `aborted` shortly. '
        + 'A job that already finished answers 409.',
      operationId: 'abortJob',
      params: ById,
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
