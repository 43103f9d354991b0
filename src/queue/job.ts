// Job definitions and the job record: what a job is, how it retries, and how its hash reads back.
import { Type, type Static, type TSchema, type TUnknown } from '@sinclair/typebox';
import type { Logger } from '../log.ts';
import type { Redis } from '../redis/index.ts';
import { compileJsonInput } from '../schema/index.ts';
import { PRIORITIES, type Priority } from './keys.ts';

export const JOB_STATUSES = ['deferred', 'queued', 'in_progress', 'retrying', 'complete', 'failed', 'aborted', 'not_found'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['complete', 'failed', 'aborted', 'not_found']);

export interface Backoff {
  kind: 'exponential' | 'fixed';
  baseMs: number;
  maxMs: number;
  /** Fraction of each delay drawn at random (0: none, 1: anywhere in [0, delay]), so retries do not stampede. */
  jitter: number;
}

/** What a handler gets besides its payload. */
export interface JobContext {
  jobId: string;
  attempt: number;
  /** Aborted on timeout, on an abort request, on shutdown past the grace period, or when the lease is lost. */
  signal: AbortSignal;
  /** Records progress (a number, e.g. a percentage) and streams it to event listeners. */
  progress(value: number): Promise<void>;
  log: Logger;
  /** The worker's Redis connection, for handlers that read or write Redis themselves. */
  redis: Redis;
}

/**
 * Debounce or throttle: an enqueue whose dedupe key (per owner and job name) names a live job resolves to that job
 * instead of adding one. `throttle`: the new payload is dropped while the job waits or runs. `debounce`: while the
 * job has not started, it takes the new payload and its start moves to `delayMs` after this enqueue, but never past
 * `maxWaitMs` after the first one; once it runs, the next enqueue makes a new job.
 */
export interface Dedupe {
  mode: 'throttle' | 'debounce';
  /** Debounce: the quiet time before the job starts (required, > 0). */
  delayMs?: number;
  /** Debounce: the latest start, counted from the job's first enqueue (default none). */
  maxWaitMs?: number;
}

/** A definition's dedupe: the key comes from the payload. */
export interface JobDedupe<T> extends Dedupe {
  // Method syntax: definitions of any payload type fit in one JobDefinition[] list.
  key(payload: T): string;
}

export interface JobSpec<P extends TSchema, R extends TSchema> {
  /** Unique per queue, e.g. 'catalog.export'. */
  name: string;
  payload: P;
  result?: R;
  handler: (payload: Static<P>, ctx: JobContext) => Promise<Static<R>>;
  /** Per attempt; past it the signal aborts and the attempt fails (default 5 min). */
  timeoutMs?: number;
  /** Attempts in all, the first included (default 3). */
  maxTries?: number;
  backoff?: Partial<Backoff>;
  /** How long a finished job's hash (status, result) stays readable (default 1 day). */
  keepResultS?: number;
  /**
   * Which level's jobs it waits with (default `normal`; an enqueue's own `priority` overrides it). While every
   * level has jobs waiting, workers start high, normal and low jobs 4:2:1, so low ones are never starved.
   */
  priority?: Priority;
  /** Every enqueue of this job dedupes by the key its payload gives (an enqueue's own `dedupe` overrides it). */
  dedupe?: JobDedupe<Static<P>>;
  /**
   * The group a job belongs to (e.g. its tenant), computed from its payload at enqueue. With `groupConcurrency`,
   * at most that many jobs of one group run at once across all workers; the others wait, in order, without
   * holding up other groups. Groups are the queue's: jobs of other names that name the same group share its slots.
   */
  group?: (payload: Static<P>) => string;
  /** Jobs of one group running at once (default 1 when `group` is given). */
  groupConcurrency?: number;
}

export interface JobDefinition<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly name: string;
  readonly payload: P;
  readonly result: R;
  // Method syntax: definitions of any payload type fit in one JobDefinition[] list.
  handler(payload: Static<P>, ctx: JobContext): Promise<Static<R>>;
  readonly timeoutMs: number;
  readonly maxTries: number;
  readonly backoff: Backoff;
  readonly keepResultS: number;
  readonly priority: Priority;
  /** The definition's dedupe (checked at definition), or null. */
  readonly dedupe: JobDedupe<Static<P>> | null;
  /** The payload's group and how many of it may run at once; null for a job without a group. */
  readonly group: { of(payload: Static<P>): string; concurrency: number } | null;
  /** Validates (defaults applied) a payload; throws HttpError 422 with field errors. */
  readonly parse: (payload: unknown) => Static<P>;
}

export const JOB_DEFAULTS = {
  timeoutMs: 300_000,
  maxTries: 3,
  backoff: { kind: 'exponential', baseMs: 1000, maxMs: 60_000, jitter: 0.2 } satisfies Backoff,
  keepResultS: 86_400,
};

export function defineJob<P extends TSchema, R extends TSchema = TUnknown>(spec: JobSpec<P, R>): JobDefinition<P, R> {
  const concurrency = spec.groupConcurrency ?? 1;
  if (spec.groupConcurrency !== undefined && spec.group === undefined) throw new TypeError(`defineJob ${spec.name}: groupConcurrency needs a group`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`defineJob ${spec.name}: groupConcurrency must be a positive integer`);
  return {
    name: spec.name,
    payload: spec.payload,
    result: spec.result ?? (Type.Unknown() as TSchema as R),
    handler: spec.handler,
    timeoutMs: spec.timeoutMs ?? JOB_DEFAULTS.timeoutMs,
    maxTries: spec.maxTries ?? JOB_DEFAULTS.maxTries,
    backoff: { ...JOB_DEFAULTS.backoff, ...spec.backoff },
    keepResultS: spec.keepResultS ?? JOB_DEFAULTS.keepResultS,
    priority: checkPriority(spec.priority ?? 'normal', `defineJob ${spec.name}`),
    dedupe: spec.dedupe ? checkDedupe(spec.dedupe, `defineJob ${spec.name}`) : null,
    group: spec.group === undefined ? null : { of: spec.group, concurrency },
    parse: compileJsonInput(spec.payload, 'payload'),
  };
}

export function checkPriority(priority: Priority, where: string): Priority {
  if (!PRIORITIES.includes(priority)) throw new TypeError(`${where}: priority must be one of ${PRIORITIES.join(', ')}`);
  return priority;
}

/** Throws a TypeError for a dedupe that cannot work (a debounce without a delay, a cap below it). */
export function checkDedupe<D extends Dedupe>(dedupe: D, where: string): D {
  const { mode, delayMs, maxWaitMs } = dedupe;
  if (mode !== 'throttle' && mode !== 'debounce') throw new TypeError(`${where}: dedupe mode must be 'throttle' or 'debounce'`);
  if (mode === 'debounce' && !(Number.isInteger(delayMs) && delayMs! > 0)) throw new TypeError(`${where}: a debounce needs delayMs, a positive integer`);
  if (maxWaitMs !== undefined && !(Number.isInteger(maxWaitMs) && maxWaitMs >= (delayMs ?? 0))) throw new TypeError(`${where}: maxWaitMs must be an integer no less than delayMs`);
  return dedupe;
}

/** Delay before the retry that follows failed attempt `attempt` (1-based). */
export function backoffDelay(b: Backoff, attempt: number): number {
  const raw = b.kind === 'fixed' ? b.baseMs : b.baseMs * 2 ** (attempt - 1);
  const delay = Math.min(raw, b.maxMs);
  return Math.round(delay * (1 - b.jitter * Math.random()));
}

/** A job as its hash reads back; times are epoch milliseconds, null when not reached. */
export interface JobRecord {
  id: string;
  name: string;
  status: Exclude<JobStatus, 'not_found'>;
  attempt: number;
  maxTries: number;
  progress: number | null;
  result: unknown;
  error: string | null;
  enqueuedAt: number;
  scheduledFor: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  worker: string | null;
  /** The principal that enqueued it (`EnqueueOptions.owner`); null for a job nobody owns (cron, internal). */
  owner: string | null;
  /** Bumped by every status or progress change; events carry it, so a listener can drop what it already has. */
  revision: number;
}

const time = (v: string | undefined): number | null => (v === undefined ? null : Number(v));

export function parseJobHash(id: string, h: Record<string, string>): JobRecord | null {
  if (h.status === undefined) return null;
  return {
    id,
    name: h.name,
    status: h.status as JobRecord['status'],
    attempt: Number(h.attempt),
    maxTries: Number(h.max_tries),
    progress: h.progress === undefined ? null : Number(h.progress),
    result: h.result === undefined ? undefined : JSON.parse(h.result),
    error: h.error ?? null,
    enqueuedAt: Number(h.enqueued_at),
    scheduledFor: time(h.scheduled_for),
    startedAt: time(h.started_at),
    finishedAt: time(h.finished_at),
    worker: h.worker ?? null,
    owner: h.owner ?? null,
    revision: Number(h.rev ?? 0),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A job as the job API shows it (the `Job` schema of routes.ts): times as ISO strings, `result` once complete. */
export function jobView(job: JobRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: job.id, name: job.name, status: job.status, attempt: job.attempt, max_tries: job.maxTries, progress: job.progress,
    enqueued_at: iso(job.enqueuedAt), scheduled_for: iso(job.scheduledFor), started_at: iso(job.startedAt), finished_at: iso(job.finishedAt),
  };
  if (job.error !== null) view.error = job.error;
  if (job.status === 'complete') view.result = job.result;
  return view;
}

/**
 * Whether a caller may see (read, follow, download, abort) a job: its owner, an operator, or anybody for a job
 * nobody owns. Everybody else is told the job does not exist, so an id reveals nothing.
 */
export function jobVisibleTo(job: Pick<JobRecord, 'owner'>, principal: string | undefined, operator = false): boolean {
  return job.owner === null || operator || job.owner === principal;
}
