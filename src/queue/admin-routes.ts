// The operator API, one router any app mounts (`app.include(createAdminRouter(queues, { adminKeys }), { prefix:
// '/v1' })`): queues with their counts, throughput and workers; jobs by status; one job in full; retry, abort,
// delete, promote, pause, resume, drain. Only keys of ADMIN_KEYS (the operator role) may call it; with none
// configured every route answers 404, as if it were not mounted.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type, type TSchema } from '@sinclair/typebox';
import { HttpError, ProblemSchema } from '../errors.ts';
import { createRouter, defineDependency } from '../router/index.ts';
import { InvalidCursor, MAX_PAGE, MAX_PER_REQUEST, OPERATOR_STATUSES, QueueOperator, type JobDetail, type JobRow, type JobTraits, type QueueOverview } from './operator.ts';
import { PRIORITIES } from './keys.ts';
import { JOB_ID_PATTERN, type Queue } from './queue.ts';

export interface AdminRouterOptions {
  /** Keys with the operator role (ADMIN_KEYS), sent in `X-API-Key`; none: the router answers 404 everywhere. */
  adminKeys: string[];
  /** The app's other keys (API_KEYS): such a key is known but not an operator, so it gets 403 rather than 401. */
  apiKeys?: string[];
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();
/** Constant-time over every key, so timing reveals neither which key matched nor how many there are. */
const holds = (ring: Buffer[], d: Buffer): boolean => {
  let found = false;
  for (const k of ring) found = timingSafeEqual(k, d) || found;
  return found;
};

/** The operator role: 404 when no admin key is configured, 401 without a known key, 403 for a non-operator key. */
export function operatorKey(options: AdminRouterOptions) {
  const admins = options.adminKeys.map(digest);
  const others = (options.apiKeys ?? []).map(digest);
  return defineDependency<{ keyId: string }>({
    name: 'operator',
    security: { id: 'AdminKeyAuth', scheme: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'One of the keys in ADMIN_KEYS (the operator role).' } },
    principal: (p) => `operator:${p.keyId}`,
    resolve(ctx) {
      if (admins.length === 0) throw HttpError.of('NOT_FOUND');
      const given = ctx.req.headers['x-api-key'];
      const unauthorized = (detail: string) => HttpError.of('UNAUTHORIZED', detail, { headers: { 'www-authenticate': 'ApiKey header="X-API-Key"' } });
      if (typeof given !== 'string' || given === '') throw unauthorized('Send an operator key (ADMIN_KEYS) in the X-API-Key header.');
      const d = digest(given);
      if (holds(admins, d)) return { keyId: d.toString('hex').slice(0, 12) };
      if (holds(others, d)) throw HttpError.of('FORBIDDEN', 'This key may not operate the queues: only ADMIN_KEYS may.');
      throw unauthorized('The key is not valid.');
    },
  });
}

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const JobId = Type.String({ pattern: JOB_ID_PATTERN });
const Count = (description: string) => Type.Integer({ minimum: 0, description });
const StatusName = Type.Union(OPERATOR_STATUSES.map((s) => Type.Literal(s)), { description: '`dead`: the dead-letter stream (failed for good, kept until replayed).' });

const QueueSummary = Type.Object({
  name: Type.String(),
  paused: Type.Boolean({ description: 'Workers start nothing new while paused; enqueueing goes on.' }),
  counts: Type.Object(Object.fromEntries(OPERATOR_STATUSES.map((s) => [s, Count(`Jobs ${s}.`)]))),
  oldest_waiting_ms: Count('How long the oldest queued job has waited (0: none waits).'),
  throughput: Type.Array(Type.Object({
    minute: Type.String({ format: 'date-time' }),
    processed: Count('Jobs completed in this minute.'),
    failed: Count('Jobs failed for good in this minute.'),
  }), { description: 'The last 60 minutes, oldest first.' }),
  workers: Type.Array(Type.Object({
    consumer: Type.String(),
    host: Type.Union([Type.String(), Type.Null()]),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    running: Count('Attempts it owns (running or prefetched).'),
    jobs: Type.Array(JobId, { description: 'Up to 20 of their job ids.' }),
    last_heartbeat: Time,
  }), { description: 'Live workers (heartbeat within the lease).' }),
}, { $id: 'AdminQueue' });

// What decides when a job runs, in its row and its detail.
const Traits = {
  priority: Type.Union(PRIORITIES.map((p) => Type.Literal(p)), { description: 'The level it waits with (a dead letter: the one its replay runs at).' }),
  group: Type.Union([Type.String(), Type.Null()], { description: 'Its concurrency group (defineJob `group`); null: none.' }),
  dedupe: Type.Union([Type.Object({
    mode: Type.Union([Type.Literal('throttle'), Type.Literal('debounce')]),
    key: Type.String({ description: 'The dedupe key as it was given (per owner and job name).' }),
  }), Type.Null()], { description: 'The dedupe key it was enqueued with; null: none.' }),
};

const JobRowSchema = Type.Object({
  id: JobId,
  name: Type.String(),
  status: Type.String(),
  attempt: Count('Attempts started.'),
  max_tries: Count('Attempts allowed.'),
  entered_at: Type.String({ format: 'date-time', description: 'When it entered the status listed.' }),
  enqueued_at: Time,
  finished_at: Time,
  error: Type.Union([Type.String(), Type.Null()]),
  ...Traits,
}, { $id: 'AdminJobRow' });

const JobPageSchema = Type.Object({
  jobs: Type.Array(JobRowSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next (older) page; null on the last.' }),
}, { $id: 'AdminJobPage' });

const JobDetailSchema = Type.Object({
  id: JobId,
  name: Type.String(),
  status: Type.String(),
  attempt: Count('Attempts started.'),
  max_tries: Count('Attempts allowed.'),
  owner: Type.Union([Type.String(), Type.Null()], { description: 'The principal that enqueued it.' }),
  ...Traits,
  group_concurrency: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'At most this many jobs of its group run at once; null without a group.' }),
  holds_dedupe: Type.Boolean({ description: 'Its dedupe key resolves to it now: an enqueue with the key would be throttled or debounced into it.' }),
  payload: Type.Unknown(),
  result: Type.Unknown(),
  error: Type.Union([Type.String(), Type.Null()]),
  stack: Type.Union([Type.String(), Type.Null()], { description: 'The stack of the last error a handler threw.' }),
  progress: Type.Union([Type.Number(), Type.Null()]),
  enqueued_at: Time,
  scheduled_for: Time,
  started_at: Time,
  finished_at: Time,
  attempts: Type.Array(Type.Object({
    attempt: Type.Integer(),
    worker: Type.Union([Type.String(), Type.Null()]),
    started_at: Time,
    ended_at: Time,
    outcome: Type.String({ description: 'complete | retry | fail | abort | release (shutdown, not counted) | lost (its worker died) | running.' }),
  })),
  logs: Type.Array(Type.Unknown(), { description: 'What the handler logged through ctx.log (info and above): { t, level, msg, ...fields }.' }),
  dead: Type.Boolean({ description: 'Its dead letter is in the dead-letter stream.' }),
}, { $id: 'AdminJob' });

const answer = (description: string, fields: Record<string, TSchema>) => ({ description, schema: Type.Object(fields) });
const notFound = { description: 'No such queue or job (or no admin key is configured).', schema: ProblemSchema };
const unavailable = { description: 'Redis does not answer; every action is idempotent, so retry shortly.', schema: ProblemSchema };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function queueView(o: QueueOverview) {
  return {
    name: o.name, paused: o.paused, counts: o.counts, oldest_waiting_ms: o.oldestWaitingMs,
    throughput: o.throughput.map((t) => ({ minute: new Date(t.minute).toISOString(), processed: t.processed, failed: t.failed })),
    workers: o.workers.map((w) => ({ consumer: w.consumer, host: w.host, pid: w.pid, running: w.running, jobs: w.jobs, last_heartbeat: iso(w.lastHeartbeat) })),
  };
}

const traitsView = (t: JobTraits) => ({ priority: t.priority, group: t.group, dedupe: t.dedupe });

const rowView = (r: JobRow) => ({
  id: r.id, name: r.name, status: r.status, attempt: r.attempt, max_tries: r.maxTries, entered_at: new Date(r.enteredAt).toISOString(),
  enqueued_at: iso(r.enqueuedAt), finished_at: iso(r.finishedAt), error: r.error, ...traitsView(r),
});

const detailView = (j: JobDetail) => ({
  id: j.id, name: j.name, status: j.status, attempt: j.attempt, max_tries: j.maxTries, owner: j.owner, ...traitsView(j),
  group_concurrency: j.groupConcurrency, holds_dedupe: j.holdsDedupe, payload: j.payload, result: j.result,
  error: j.error, stack: j.stack, progress: j.progress, enqueued_at: iso(j.enqueuedAt), scheduled_for: iso(j.scheduledFor),
  started_at: iso(j.startedAt), finished_at: iso(j.finishedAt),
  attempts: j.attempts.map((a) => ({ attempt: a.attempt, worker: a.worker, started_at: iso(a.startedAt), ended_at: iso(a.endedAt), outcome: a.outcome })),
  logs: j.logs, dead: j.dead,
});

export function createAdminRouter(queues: Queue[], options: AdminRouterOptions) {
  const operators = new Map(queues.map((q) => [q.name, new QueueOperator(q)]));
  const find = (name: string): QueueOperator => {
    const found = operators.get(name);
    if (found === undefined) throw HttpError.of('NOT_FOUND', `No queue is named ${name}.`);
    return found;
  };
  const OfQueue = Type.Object({ queue: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$' }) });
  const OfJob = Type.Object({ queue: OfQueue.properties.queue, id: JobId });

  const router = createRouter({ prefix: '/admin/queues', tags: ['admin'], dependencies: { operator: operatorKey(options) } });
  router.get('/', {
    summary: 'List queues',
    description: 'Every queue with its counts per status, throughput per minute, oldest waiting job, workers and paused flag.',
    operationId: 'adminListQueues',
    response: { 200: { description: 'The queues.', schema: Type.Object({ queues: Type.Array(QueueSummary) }) }, 503: unavailable },
  }, async () => ({ queues: (await Promise.all([...operators.values()].map((o) => o.overview()))).map(queueView) }));

  router.get('/{queue}', {
    summary: 'Read a queue',
    operationId: 'adminGetQueue',
    params: OfQueue,
    response: { 200: { description: 'The queue.', schema: QueueSummary }, 404: notFound, 503: unavailable },
  }, async (ctx) => queueView(await find(ctx.params.queue).overview()));

  router.get('/{queue}/jobs', {
    summary: 'List jobs by status',
    description: 'Newest first (by when each entered the status); follow `next_cursor` for older pages. A `name` filter looks '
      + 'at up to 2000 jobs per page, so a page may be short and still have a `next_cursor`.',
    operationId: 'adminListJobs',
    params: OfQueue,
    query: Type.Object({
      status: StatusName,
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only jobs of this name.' })),
      cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$', description: 'The `next_cursor` of the previous page.' })),
      limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50, description: 'Page size.' }),
    }),
    response: { 200: { description: 'A page of jobs.', schema: JobPageSchema }, 404: notFound, 503: unavailable },
  }, async (ctx) => {
    const { status, name, cursor, limit } = ctx.query;
    try {
      const page = await find(ctx.params.queue).list(status, { name, cursor, limit });
      return { jobs: page.jobs.map(rowView), next_cursor: page.nextCursor };
    } catch (err) {
      if (err instanceof InvalidCursor) throw HttpError.of('BAD_REQUEST', 'The cursor is not one this listing gave (cursors of one status do not fit another).');
      throw err;
    }
  });

  router.get('/{queue}/jobs/{id}', {
    summary: 'Read a job in full',
    description: 'Payload, result, error with its stack, every attempt (worker, start, end, outcome), progress and the log lines of its handler.',
    operationId: 'adminGetJob',
    params: OfJob,
    response: { 200: { description: 'The job.', schema: JobDetailSchema }, 404: notFound, 503: unavailable },
  }, async (ctx) => {
    const job = await find(ctx.params.queue).job(ctx.params.id);
    if (job === null) throw HttpError.of('NOT_FOUND', `No job has the id ${ctx.params.id}, or it expired.`);
    return detailView(job);
  });

  router.post('/{queue}/jobs/{id}/retry', {
    summary: 'Retry a failed job',
    description: 'A failed job (dead letter or not) runs again from attempt 0 under its id; any other status is skipped.',
    operationId: 'adminRetryJob',
    params: OfJob,
    response: { 200: answer('What was done.', { retried: Count('0 or 1.'), skipped: Count('0 or 1.') }), 404: notFound, 503: unavailable },
  }, async (ctx) => find(ctx.params.queue).retry([ctx.params.id]));

  router.post('/{queue}/jobs/{id}/abort', {
    summary: 'Abort a job',
    description: 'A waiting job ends `aborted` at once; a running one is signalled and ends `aborted` shortly; a finished one is left alone.',
    operationId: 'adminAbortJob',
    params: OfJob,
    response: { 200: answer('What was done.', { aborted: Count('1: it was waiting and is aborted.'), aborting: Count('1: its worker is stopping it.') }), 404: notFound, 503: unavailable },
  }, async (ctx) => {
    const { queue } = find(ctx.params.queue);
    // abortJob answers 'aborted' also for a job that already was: the status before tells the two apart.
    const before = await queue.getJob(ctx.params.id);
    if (before === null || before.status === 'aborted') return { aborted: 0, aborting: 0 };
    const outcome = await queue.abort(ctx.params.id, { operator: true });
    return { aborted: outcome === 'aborted' ? 1 : 0, aborting: outcome === 'aborting' ? 1 : 0 };
  });

  router.post('/{queue}/jobs/{id}/promote', {
    summary: 'Run a deferred job now',
    description: 'A deferred or retrying job is queued at once; any other status is left alone.',
    operationId: 'adminPromoteJob',
    params: OfJob,
    response: { 200: answer('What was done.', { promoted: Count('0 or 1.') }), 404: notFound, 503: unavailable },
  }, async (ctx) => ({ promoted: await find(ctx.params.queue).promote(ctx.params.id) }));

  router.delete('/{queue}/jobs/{id}', {
    summary: 'Delete a job',
    description: 'Removes a job that is not running (abort a running one first); an unknown id deletes nothing.',
    operationId: 'adminDeleteJob',
    params: OfJob,
    response: { 200: answer('What was done.', { deleted: Count('0 or 1.'), running: Count('1: it is running and was left alone.') }), 404: notFound, 503: unavailable },
  }, async (ctx) => find(ctx.params.queue).delete([ctx.params.id]));

  router.post('/{queue}/retry', {
    summary: 'Retry many failed jobs',
    description: `By \`ids\`, or every job of a \`status\` (\`failed\`, or \`dead\`: the dead letters, oldest first), at most ${MAX_PER_REQUEST} `
      + 'per request: call again while `remaining` is above 0.',
    operationId: 'adminRetryJobs',
    params: OfQueue,
    body: Type.Object({
      ids: Type.Optional(Type.Array(JobId, { minItems: 1, maxItems: 1000 })),
      status: Type.Optional(Type.Union([Type.Literal('failed'), Type.Literal('dead')])),
    }),
    response: {
      200: answer('What was done.', { retried: Count('Jobs queued again.'), skipped: Count('Jobs not failed (already retried, or unknown).'), remaining: Count('Jobs of the status left (0 with `ids`).') }),
      404: notFound,
      503: unavailable,
    },
  }, async (ctx) => {
    const operator = find(ctx.params.queue);
    const { ids, status } = ctx.body;
    if ((ids === undefined) === (status === undefined)) throw HttpError.of('VALIDATION_FAILED', 'Send either `ids` or `status`.');
    if (ids !== undefined) return { ...(await operator.retry(ids)), remaining: 0 };
    return operator.retryAll(status as 'failed' | 'dead');
  });

  router.post('/{queue}/pause', {
    summary: 'Pause a queue',
    description: 'Workers finish what they hold and start nothing new; enqueueing goes on.',
    operationId: 'adminPauseQueue',
    params: OfQueue,
    response: { 200: answer('The queue is paused.', { paused: Type.Boolean() }), 404: notFound, 503: unavailable },
  }, async (ctx) => {
    await find(ctx.params.queue).pause();
    return { paused: true };
  });

  router.post('/{queue}/resume', {
    summary: 'Resume a queue',
    operationId: 'adminResumeQueue',
    params: OfQueue,
    response: { 200: answer('The queue runs jobs.', { paused: Type.Boolean() }), 404: notFound, 503: unavailable },
  }, async (ctx) => {
    await find(ctx.params.queue).resume();
    return { paused: false };
  });

  router.post('/{queue}/drain', {
    summary: 'Delete every waiting job',
    description: `Queued, deferred and retrying jobs are deleted, at most ${MAX_PER_REQUEST} per request: call again while \`remaining\` is above 0. Running jobs go on.`,
    operationId: 'adminDrainQueue',
    params: OfQueue,
    response: { 200: answer('What was done.', { deleted: Count('Jobs deleted.'), remaining: Count('Waiting jobs left.') }), 404: notFound, 503: unavailable },
  }, async (ctx) => find(ctx.params.queue).drain());
  return router;
}
