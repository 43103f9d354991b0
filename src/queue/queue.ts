// The producer side of a queue, used inside API processes: enqueue, read, abort, operate. Every call is one
// bounded Redis round trip; when Redis is away it fails fast with HttpError 503 instead of waiting.
import { randomUUID } from 'node:crypto';
import type { TSchema, Static } from '@sinclair/typebox';
import { systemClock, type Clock } from '../clock.ts';
import { HttpError, RETRY_AFTER_S, SkiffStartupError, unavailableError } from '../errors.ts';
import { GUARD_GRACE_MS, RedisTimeoutError, redisFailure, waitForReplicas, withTimeout, type Redis } from '../redis/index.ts';
import { canonicalJson } from '../schema/index.ts';
import { checkDedupe, checkPriority, parseJobHash, type Dedupe, type JobDefinition, type JobRecord, type JobStatus } from './job.ts';
import { PRIORITIES, queueKeys, type Priority, type QueueKeys } from './keys.ts';
import { partitionIndex, partitionNames, randomIdIn, sumStats } from './partitions.ts';
import { runScript, SCRIPTS, type Script } from './scripts.ts';

export interface QueueOptions {
  redis: Redis;
  /** Prefix of every key (config.redisPrefix). */
  prefix: string;
  /** Queue name (default 'default'); part of the keys' hash tag. */
  name?: string;
  /** Definitions the queue knows by name: the worker runs them, the job API types their results. */
  jobs: JobDefinition[];
  /** Bound on each producer call (default 1000 ms). */
  commandTimeoutMs?: number;
  /**
   * The time of due dates (delays, retries, cron ticks), of the timestamps a job records and of worker and
   * listener registrations, for producers and this queue's workers alike (default the system clock); tests pass
   * one they move. Deadlines stay on real time: Redis checks them against its own clock.
   */
  clock?: Clock;
  /**
   * How many finished jobs the complete and failed (and aborted) status indexes keep, and for how long; the
   * scripts that finish jobs delete the oldest past either bound, hashes included (a count once it is 1% over,
   * back to it in one chunk: QUEUE_KEEP_COMPLETE, QUEUE_KEEP_FAILED). Default DEFAULT_RETENTION.
   */
  retention?: { complete?: Keep; failed?: Keep };
  /** Wait for replicas to acknowledge each enqueue and each settled job (QUEUE_WAIT_REPLICAS); absent: no wait. */
  replicaAck?: ReplicaAck;
  /**
   * How many key sets (slots) the queue spreads over (QUEUE_PARTITIONS, default 1): partition 0 is the queue's
   * own keys, the others queues named `name#k` (src/queue/partitions.ts). Every process of a queue must use the
   * same count: a job's partition follows from its id and the count. checkPartitions() records it in Redis on
   * first use and refuses another.
   */
  partitions?: number;
  /**
   * At most `jobs` job starts in any `perMs`, across all the queue's workers (e.g. a third-party API that allows
   * 10 calls a second: `{ jobs: 10, perMs: 1000 }`). Jobs past it wait, queued, and start as it allows. Workers
   * enforce it: give it to the queue the workers use. Each key set keeps its own count, so with `partitions` n the
   * limit is split: partition p allows floor(jobs / n), plus 1 for the first jobs mod n partitions (jobs ≥ n). A
   * partition's unused share is not lent to the others: jobs that all sit in one partition start at its share.
   */
  rateLimit?: { jobs: number; perMs: number };
}

/**
 * Redis replicates asynchronously: a write the master acknowledged is lost if the master fails before a replica
 * has it. With this, an enqueue answers only once `replicas` replicas have the job (Redis WAIT, at most
 * `timeoutMs`; fewer: a 503 OUTCOME_UNKNOWN), and a worker waits the same way after settling jobs.
 */
export interface ReplicaAck {
  replicas: number;
  timeoutMs: number;
  /**
   * The connection enqueues and their WAITs go on (default the queue's `redis`). WAIT holds its connection until
   * the replicas answer, so an API process gives its enqueues one of their own: its other commands (cache,
   * rate limits) then never queue behind a WAIT for a replica that is down.
   */
  redis?: Redis;
}

/** A retention bound: at most `count` jobs, none older than `ageS` seconds (either may be absent: no bound). */
export interface Keep {
  count?: number;
  ageS?: number;
}

export const DEFAULT_RETENTION = { complete: { count: 10_000, ageS: 86_400 }, failed: { count: 10_000, ageS: 7 * 86_400 } } satisfies Record<string, Keep>;

const keepSpec = (keep: Keep): string => `${keep.count ?? -1},${keep.ageS === undefined ? -1 : Math.round(keep.ageS * 1000)}`;

export interface EnqueueOptions {
  /**
   * The job's id (JOB_ID_PATTERN); default random. Enqueueing an id that exists returns that job (another
   * payload or owner → HttpError 409), so a retry that carries the same id creates nothing: give the operation id
   * of an idempotent request (`idempotencyId(ctx)` from src/idempotency).
   */
  id?: string;
  /** The principal the job belongs to (`ctx.principal`): only it, or an operator, may see it over HTTP. */
  owner?: string;
  /** Same key (per owner) + same payload → the existing job; another payload → HttpError 409. Ids stay random. */
  idempotencyKey?: string;
  delayMs?: number;
  runAt?: Date;
  /**
   * Epoch ms past which the job must not be enqueued (the request's deadline); the sooner of it and now + the
   * command bound applies. Redis refuses a job whose deadline has passed, so a 503 means "not enqueued".
   */
  deadline?: number;
  /**
   * Debounce or throttle under this key (per owner and job name; 1–512 characters) instead of the definition's
   * `dedupe`; null: none. The handle then names the job the enqueue resolved to (`deduped`). A debounce starts the
   * job its `delayMs` after the last enqueue: give it no `delayMs` or `runAt` of its own.
   */
  dedupe?: (Dedupe & { key: string }) | null;
  /** The level it waits with, instead of the definition's `priority` (default `normal`). */
  priority?: Priority;
  /**
   * On a partitioned queue, the jobs of one key go to one partition (e.g. a tenant, so their order stays within
   * one key set); default: the dedupe key, else the idempotency key, else the next partition in turn. A given `id`
   * decides the partition instead (its hash): give either. A job with a `group` goes to its group's partition, so
   * the group's limit is exact: it takes neither an `id` nor a `partitionKey` there (an `idempotencyKey` makes
   * its retries safe), and its dedupe key is matched among the jobs of that partition.
   */
  partitionKey?: string;
}

export interface JobHandle {
  readonly id: string;
  /** False when an idempotency key or a dedupe key matched an existing job. */
  readonly created: boolean;
  /**
   * How a dedupe key resolved the enqueue to a live job: `throttled` (its payload dropped), `debounced` (the job
   * took its payload and a later start); null when it did not.
   */
  readonly deduped: 'throttled' | 'debounced' | null;
  /** Status when enqueue returned. */
  readonly initialStatus: JobStatus;
  status(): Promise<JobStatus>;
}

export type AbortOutcome = 'aborted' | 'aborting' | 'not_found' | 'complete' | 'failed';

export interface QueueStats {
  queue: string;
  /** Jobs waiting in the stream, all priorities together, and per priority. */
  queued: number;
  queuedByPriority: Record<Priority, number>;
  /** Queued jobs parked behind their group's concurrency limit (not in `queued`). */
  waiting: number;
  inProgress: number;
  delayed: number;
  dead: number;
  /** Age in ms of the oldest job waiting to be picked up, 0 when none waits. */
  oldestQueuedMs: number;
  processed: number;
  failed: number;
  retried: number;
  workers: number;
}

/** A class, not an object literal with a closure: enqueue is a hot path. */
class EnqueuedJob implements JobHandle {
  readonly #queue: Queue;

  constructor(queue: Queue, readonly id: string, readonly created: boolean, readonly initialStatus: JobStatus, readonly deduped: JobHandle['deduped']) {
    this.#queue = queue;
  }

  async status(): Promise<JobStatus> {
    return (await this.#queue.getJob(this.id))?.status ?? 'not_found';
  }
}

/** An enqueue the master applied but too few replicas acknowledged: a failover now could lose it. */
const unconfirmedEnqueue = (ack: ReplicaAck) => HttpError.of('OUTCOME_UNKNOWN',
  `The job was written to the Redis master, but fewer than ${ack.replicas} replica(s) acknowledged it within ${ack.timeoutMs} ms: `
  + 'a failover now could lose it. Enqueueing it again with the same job id or Idempotency-Key is safe (it returns this job, or writes it again if it was lost).',
  { headers: { 'retry-after': String(RETRY_AFTER_S) } });

// Reads and aborts (abort is idempotent) are safe to retry; enqueue answers through unavailableError instead.
const queueUnavailable = (cause?: unknown) => HttpError.of('SERVICE_UNAVAILABLE', 'The job queue did not answer in time; reading or aborting again after Retry-After is safe.', {
  cause, headers: { 'retry-after': String(RETRY_AFTER_S) },
});

const conflict = () => HttpError.of('CONFLICT', 'This job id or idempotency key was already used with a different payload.');

/** A process whose partition count is not the one recorded for its queue: it would strand jobs or miss them. */
export class QueuePartitionsError extends SkiffStartupError {
  override readonly name = 'QueuePartitionsError';

  constructor(detail: string) {
    super('SKIFF_QUEUE_PARTITIONS', detail);
  }
}

/** Job ids in URLs and keys: what randomUUID and idempotent ids produce, nothing that could escape a key. */
export const JOB_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const JOB_ID = new RegExp(JOB_ID_PATTERN);
const MAX_DEDUPE_KEY = 512;
/** What addJobs-2 answers per job, by the code it starts with. */
const DEDUPED = { 2: 'throttled', 3: 'debounced' } as Record<number, JobHandle['deduped']>;

interface PendingAdd {
  job: string[];
  /** Epoch ms: the caller gives up then (waiting for a group included), and Redis refuses the job after it. */
  deadline: number;
  resolve: (reply: [number, JobStatus, string]) => void;
  reject: (err: unknown) => void;
}

/** Undelivered entries stats() counts one by one when the group's lag is unknown. */
const UNDELIVERED_COUNTED = 10_000;
/** Most enqueues sent in one script call, so one call never holds Redis for long. */
const MAX_ADD_BATCH = 500;
/** Enqueue script calls out at once; more enqueues gather for the next call. */
const ADD_CALLS_IN_FLIGHT = 2;
/** A burst this large that finds no call in flight is split in ADD_CALLS_IN_FLIGHT + 1 groups to start the rotation. */
const SPLIT_AT = 16;

export class Queue {
  readonly name: string;
  readonly keys: QueueKeys;
  readonly redis: Redis;
  readonly jobs = new Map<string, JobDefinition>();
  readonly clock: Clock;
  /** The retention as the scripts take it (lua/lib/indexes.lua): 'completeCount,completeMs,failedCount,failedMs'. */
  readonly retention: string;
  readonly replicaAck: ReplicaAck | undefined;
  /** The connection enqueues go on: replicaAck's own, else `redis`. */
  readonly #writes: Redis;
  /**
   * The key sets the queue spreads over: [this] for one partition; else n queues of one partition each, the
   * first with this queue's name and keys. Reads and writes of one job go to `partitionOf(id)`.
   */
  readonly partitions: readonly Queue[];
  /** The partition the next enqueue without a key goes to. */
  #turn = 0;
  /** The queue this is a partition of (itself when it is none): enqueues go through it, to be routed. */
  #whole: Queue = this;
  /** The rate limit as startJobs-4 takes it: 'jobs,perMs', '' for none. */
  readonly rateLimit: string;
  readonly #timeoutMs: number;
  /** Enqueues waiting for the next script call. */
  #adds: PendingAdd[] = [];
  #addCallsInFlight = 0;
  #addFlushQueued = false;

  constructor(options: QueueOptions) {
    this.name = options.name ?? 'default';
    this.keys = queueKeys(options.prefix, this.name);
    this.redis = options.redis;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    const retention = { ...DEFAULT_RETENTION, ...options.retention };
    this.retention = `${keepSpec(retention.complete)},${keepSpec(retention.failed)}`;
    this.replicaAck = options.replicaAck;
    this.#writes = options.replicaAck?.redis ?? options.redis;
    const limit = options.rateLimit;
    if (limit !== undefined && !(Number.isInteger(limit.jobs) && limit.jobs > 0 && Number.isInteger(limit.perMs) && limit.perMs > 0)) {
      throw new TypeError('createQueue: rateLimit needs jobs and perMs, positive integers');
    }
    this.rateLimit = limit === undefined ? '' : `${limit.jobs},${limit.perMs}`;
    for (const job of options.jobs) this.jobs.set(job.name, job);
    const n = options.partitions ?? 1;
    if (limit !== undefined && limit.jobs < n) throw new TypeError(`createQueue: rateLimit.jobs (${limit.jobs}) is split over the ${n} partitions and must be at least ${n}`);
    // Each partition counts its own starts: its share of the limit, so that together they allow it once.
    const share = (p: number) => limit && { jobs: Math.floor(limit.jobs / n) + (p < limit.jobs % n ? 1 : 0), perMs: limit.perMs };
    this.partitions = n === 1 ? [this] : partitionNames(this.name, n).map((name, p) => new Queue({ ...options, name, partitions: 1, rateLimit: share(p) }));
    for (const partition of this.partitions) partition.#whole = this;
  }

  /** The partition that holds job `id` (this queue when it has one). */
  partitionOf(id: string): Queue {
    const n = this.partitions.length;
    return n === 1 ? this : this.partitions[partitionIndex(id, n)]!;
  }

  /**
   * One script call, shared by every enqueue of the same event-loop turn. Validation errors throw 422, an
   * idempotency conflict 409, an unreachable Redis 503 (and then the job was not enqueued and never runs).
   */
  async enqueue<P extends TSchema, R extends TSchema>(job: JobDefinition<P, R>, payload: Static<P>, options: EnqueueOptions = {}): Promise<JobHandle> {
    // A partition's own enqueues (a worker's cron ticks) are routed like any other.
    if (this.#whole !== this) return this.#whole.enqueue(job, payload, options);
    const value = job.parse(payload);
    if (!this.jobs.has(job.name)) this.jobs.set(job.name, job);
    const given = options.id;
    if (given !== undefined && !JOB_ID.test(given)) throw new TypeError(`enqueue: id ${JSON.stringify(given)} does not match ${JOB_ID_PATTERN}`);
    const key = options.idempotencyKey;
    const owner = options.owner ?? '';
    const deadline = Math.min(options.deadline ?? Infinity, Date.now() + this.#timeoutMs);
    let runAt = options.runAt ? options.runAt.getTime() : options.delayMs ? this.clock.now() + options.delayMs : 0;
    const dedupe = options.dedupe === undefined ? job.dedupe : options.dedupe && checkDedupe(options.dedupe, 'enqueue');
    let by = '';
    let mode = '';
    if (dedupe) {
      by = typeof dedupe.key === 'string' ? dedupe.key : dedupe.key(value);
      if (typeof by !== 'string' || by === '' || by.length > MAX_DEDUPE_KEY) throw new TypeError(`enqueue ${job.name}: a dedupe key is a string of 1–${MAX_DEDUPE_KEY} characters`);
      mode = dedupe.mode === 'throttle' ? 't' : `d${dedupe.maxWaitMs ?? ''}`;
      if (dedupe.mode === 'debounce') {
        if (runAt !== 0) throw new TypeError(`enqueue ${job.name}: a debounced job starts its dedupe delayMs after the last enqueue; give no delayMs or runAt`);
        runAt = this.clock.now() + dedupe.delayMs!;
      }
    }
    const priority = options.priority === undefined ? job.priority : checkPriority(options.priority, `enqueue ${job.name}`);
    const group = job.group === null ? '' : job.group.of(value);
    let target: Queue = this;
    let id = given;
    let same = key !== undefined ? this.keys.idempotency(owner, key) : given !== undefined ? '=' : '';
    const n = this.partitions.length;
    if (n > 1) {
      if (group !== '' && (given !== undefined || options.partitionKey !== undefined)) {
        throw new TypeError(`enqueue ${job.name}: on a partitioned queue a job with a group goes to its group's partition; give it no id or partitionKey (an idempotencyKey makes retries safe)`);
      }
      // Where the job lives: what it is matched against by id or dedupe key is there too, and all of a group's
      // slots. Its idempotency key's index lives in the key's own partition, so every job under the key finds it.
      const idempotencyRoute = key === undefined ? undefined : `${owner.length}:${owner}:${key}`;
      const routeKey = group !== '' ? `group:${group}` : options.partitionKey
        ?? (by !== '' ? `${owner.length}:${owner}:${job.name}:${by}` : undefined) ?? idempotencyRoute;
      const p = given !== undefined ? partitionIndex(given, n) : routeKey !== undefined ? partitionIndex(routeKey, n) : (this.#turn = (this.#turn + 1) % n);
      target = this.partitions[p]!;
      id ??= randomIdIn(p, n);
      if (idempotencyRoute !== undefined) {
        const ttlS = job.keepResultS + Math.ceil(Math.max(0, runAt - this.clock.now()) / 1000);
        id = await this.#claimKey(this.partitions[partitionIndex(idempotencyRoute, n)]!, owner, key!, id, ttlS, deadline);
        // The key names a job placed by another group, partition key or dedupe key: not this enqueue's job.
        if (partitionIndex(id, n) !== p) throw conflict();
      }
      same = same === '' ? '' : '=';
    }
    const guard = by !== '' ? target.keys.dedupe(owner, job.name, by) : '';
    const [created, status, found] = await target.#add([
      id ?? randomUUID(), job.name, same !== '' ? canonicalJson(value) : JSON.stringify(value), String(job.maxTries), String(runAt),
      same, String(job.keepResultS), owner, guard, mode, priority === 'normal' ? '' : priority, group, String(job.group?.concurrency ?? 0),
    ], deadline);
    if (created === -1) throw conflict();
    return new EnqueuedJob(target, found, created === 1, status, DEDUPED[created] ?? null);
  }

  /**
   * On a partitioned queue, the first step of an enqueue with an idempotency key (the job is added by id after
   * it, in its own partition): names `id` in the key's index, in `home`, unless the key names a job already.
   * Returns the id the key names. A failure is a 503 "not enqueued": at most the index names a job that does not
   * exist, which the next enqueue under the key creates.
   */
  async #claimKey(home: Queue, owner: string, key: string, id: string, ttlS: number, deadline: number): Promise<string> {
    const now = Date.now();
    if (deadline <= now) throw unavailableError(true);
    try {
      const named = await withTimeout(runScript<string | null>(this.#writes, SCRIPTS.setIfAbsent, [home.keys.idempotency(owner, key)], [id, String(ttlS)]), deadline - now + GUARD_GRACE_MS);
      if (named !== null) return named;
      // The job the index now names must not outlive it on the master alone.
      if (await home.confirmWrites(this.#writes) === false) throw new Error('too few replicas acknowledged the idempotency key');
      return id;
    } catch (err) {
      throw unavailableError(true, err);
    }
  }

  #add(job: string[], deadline: number): Promise<[number, JobStatus, string]> {
    return new Promise((resolve, reject) => {
      this.#adds.push({ job, deadline, resolve, reject });
      if (this.#addCallsInFlight < ADD_CALLS_IN_FLIGHT && !this.#addFlushQueued) {
        this.#addFlushQueued = true;
        setImmediate(() => this.#flushAdds(true));
      }
    });
  }

  /**
   * Group commit. While ADD_CALLS_IN_FLIGHT calls are out, enqueues gather for the next one; when one answers,
   * the gathered group is sent before the answered callers resume. So Redis always has a group to work on while
   * the producer handles another; one group at a time would leave each side idle while the other works.
   */
  #flushAdds(fresh: boolean): void {
    this.#addFlushQueued = false;
    if (this.#adds.length === 0 || this.#addCallsInFlight >= ADD_CALLS_IN_FLIGHT) return;
    if (fresh && this.#addCallsInFlight === 0 && this.#adds.length >= SPLIT_AT) {
      const group = Math.ceil(this.#adds.length / (ADD_CALLS_IN_FLIGHT + 1));
      for (let i = 0; i < ADD_CALLS_IN_FLIGHT; i++) this.#sendAdds(this.#adds.splice(0, group));
      return;
    }
    const send = this.#adds.splice(0, this.#adds.length);
    for (let i = 0; i < send.length; i += MAX_ADD_BATCH) this.#sendAdds(send.slice(i, i + MAX_ADD_BATCH));
  }

  #sendAdds(batch: PendingAdd[]): void {
    // The group's deadline is its earliest caller's. The script writes nothing once Redis's clock has passed it
    // (the convention of src/redis/guard.ts), and callers wait GUARD_GRACE_MS longer for a reply in flight: so
    // a 503 here truthfully says "not enqueued", also when a hung Redis runs the call after it resumes.
    let deadline = Infinity;
    for (const add of batch) if (add.deadline < deadline) deadline = add.deadline;
    // Past the deadline (own timeout included) the guard makes "not enqueued" true; a connection that dropped
    // with the call sent may have run it before the deadline, so that one says the outcome is unknown.
    const refuse = (err?: unknown) => {
      const sentAndLost = err !== undefined && !(err instanceof RedisTimeoutError) && redisFailure(err) === 'may-have-applied';
      const answer = unavailableError(!sentAndLost, err);
      for (const add of batch) add.reject(answer);
    };
    const now = Date.now();
    if (deadline <= now) return refuse();
    const args = [this.keys.jobPrefix, String(this.clock.now()), String(deadline), this.keys.base];
    for (const add of batch) for (const arg of add.job) args.push(arg);
    this.#addCallsInFlight++;
    // Answers reach callers one turn later, after the next group's write (queued first) has left.
    const answer = (deliver: () => void) => {
      this.#addCallsInFlight--;
      this.#flushAdds(false);
      setImmediate(deliver);
    };
    withTimeout(runScript<(number | string)[] | -1>(this.#writes, SCRIPTS.addJobs, [this.keys.stream, this.keys.delayed], args), deadline - now + GUARD_GRACE_MS).then(
      async (replies) => [replies, replies === -1 || (await this.confirmWrites(this.#writes) ?? true)] as const,
    ).then(
      ([replies, replicated]) => answer(() => {
        if (replies === -1) return refuse();
        batch.forEach((add, i) => {
          const created = replies[3 * i] as number;
          // A conflict wrote nothing; anything else is on the master alone until the replicas have it.
          if (!replicated && created !== -1) return add.reject(unconfirmedEnqueue(this.replicaAck!));
          add.resolve([created, replies[3 * i + 1] as JobStatus, replies[3 * i + 2] as string]);
        });
      }),
      (err: unknown) => answer(() => refuse(err)),
    );
  }

  /**
   * WAIT on `connection` once its writes have answered: true once replicaAck's replicas have every write made on
   * it, false when fewer did within its timeout or Redis did not answer; null when no replicaAck is asked. Never
   * rejects. Not pipelined behind the write: a script the server did not know goes again as EVAL after its
   * NOSCRIPT answer (the first call on a promoted replica), and a WAIT sent before that would count without it.
   */
  confirmWrites(connection: Redis): Promise<boolean> | null {
    const ack = this.replicaAck;
    if (ack === undefined) return null;
    return withTimeout(waitForReplicas(connection, this.keys.stream, ack.replicas, ack.timeoutMs), ack.timeoutMs + GUARD_GRACE_MS)
      .then((acks) => acks >= ack.replicas, () => false);
  }

  /** The job's record, or null for an unknown, malformed or expired id. */
  async getJob(id: string): Promise<JobRecord | null> {
    if (!JOB_ID.test(id)) return null;
    return parseJobHash(id, await this.#bounded(this.redis.hGetAll(this.partitionOf(id).keys.job(id))));
  }

  /**
   * Waiting jobs end `aborted` at once; a running job is signalled and ends `aborted` when its worker stops it.
   * A job owned by another principal is `not_found` unless the caller is an operator.
   */
  async abort(id: string, caller: { principal?: string; operator?: boolean } = { operator: true }): Promise<AbortOutcome> {
    if (!JOB_ID.test(id)) return 'not_found';
    const k = this.partitionOf(id).keys;
    return this.#call<AbortOutcome>(SCRIPTS.abortJob, [k.stream, k.delayed, k.job(id)], [
      k.group, id, String(this.clock.now()), k.abortChannel, caller.principal ?? '', caller.operator ? '1' : '0', k.base, this.retention,
    ]);
  }

  /**
   * Re-enqueues up to `limit` dead letters, oldest first, none newer than the letter `upTo`; returns how many.
   * A partitioned queue replays partition by partition (oldest first within each).
   */
  async replayDead(limit = 100, upTo = '+'): Promise<number> {
    if (this.partitions.length > 1) {
      let replayed = 0;
      for (const partition of this.partitions) if (replayed < limit) replayed += await partition.replayDead(limit - replayed, upTo);
      return replayed;
    }
    return this.#call<number>(SCRIPTS.replayDead, [this.keys.dead, this.keys.stream, this.keys.stats], [
      this.keys.jobPrefix, String(this.clock.now()), String(limit), this.keys.base, upTo,
    ]);
  }

  /**
   * Records the queue's partition count in Redis when none is recorded (its first process does), else compares:
   * throws QueuePartitionsError when another count is recorded, since processes with different counts strand
   * jobs (a producer's partition that no worker reads) and miss them (a read that asks the wrong partition). With
   * `record` false it only compares (the CLI). Redis not answering: HttpError 503. skiff's API and worker
   * processes call it at start; call it in processes that create a partitioned queue themselves.
   */
  async checkPartitions(record = true): Promise<void> {
    const n = String(this.partitions.length);
    const key = this.keys.partitionCount;
    const recorded = await this.#bounded(record ? runScript<string | null>(this.redis, SCRIPTS.setIfAbsent, [key], [n, '']) : this.redis.get(key));
    if (recorded === null || recorded === n) return;
    throw new QueuePartitionsError(`queue ${this.name} has ${recorded} partition(s), as its first process recorded in Redis (${key}), `
      + `and this process has QUEUE_PARTITIONS=${n}: its jobs would go where no worker reads, or be looked for where they are not. `
      + `Set QUEUE_PARTITIONS=${recorded}; to change the count, stop every process of the queue, let it empty, and delete ${key}`);
  }

  /** Creates each priority's stream and the consumer group on it if missing (a first start, a Redis that lost its data). */
  async ensureGroup(): Promise<void> {
    if (this.partitions.length > 1) {
      await Promise.all(this.partitions.map((partition) => partition.ensureGroup()));
      return;
    }
    await Promise.all(PRIORITIES.map(async (priority) => {
      try {
        await this.redis.sendCommand(['XGROUP', 'CREATE', this.keys.streams[priority], this.keys.group, '0', 'MKSTREAM']);
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
      }
    }));
  }

  /** A partitioned queue's stats are its partitions' summed (the oldest wait and the workers: the largest). */
  async stats(): Promise<QueueStats> {
    if (this.partitions.length > 1) return sumStats(this.name, await Promise.all(this.partitions.map((partition) => partition.stats())));
    const k = this.keys;
    await this.#bounded(this.ensureGroup());
    const [levels, delayed, dead, counters, workers, waiting] = await this.#bounded(Promise.all([
      Promise.all(PRIORITIES.map((p) => this.#waiting(k.streams[p]))),
      this.redis.zCard(k.delayed),
      this.redis.xLen(k.dead),
      this.redis.hGetAll(k.stats),
      this.redis.zCount(k.workers, this.clock.now(), '+inf'),
      this.redis.zCard(k.waiting),
    ]));
    const oldest = Math.min(...levels.map((l) => l.oldestEntryMs));
    return {
      queue: this.name,
      queued: levels.reduce((sum, l) => sum + l.queued, 0),
      queuedByPriority: Object.fromEntries(PRIORITIES.map((p, i) => [p, levels[i].queued])) as Record<Priority, number>,
      waiting,
      inProgress: levels.reduce((sum, l) => sum + l.inProgress, 0),
      delayed,
      dead,
      // Real time: an entry id is Redis's clock.
      oldestQueuedMs: oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest),
      processed: Number(counters.processed ?? 0),
      failed: Number(counters.failed ?? 0),
      retried: Number(counters.retried ?? 0),
      workers,
    };
  }

  /** One priority's stream: entries not yet delivered, entries delivered and not settled, the oldest waiting one's time. */
  async #waiting(stream: string): Promise<{ queued: number; inProgress: number; oldestEntryMs: number }> {
    const k = this.keys;
    const [length, pending, groups] = await Promise.all([
      this.redis.xLen(stream),
      this.redis.sendCommand(['XPENDING', stream, k.group]) as Promise<[number, ...unknown[]]>,
      this.redis.sendCommand(['XINFO', 'GROUPS', stream]) as Promise<Record<string, unknown>[]>,
    ]);
    const group = groups.find((g) => g.name === k.group);
    const lastDelivered = String(group?.['last-delivered-id'] ?? '0-0');
    // Entries not yet delivered. The group's lag is exact unless an undelivered entry was deleted (an abort, an
    // operator's delete or drain): then Redis reports none, and the entries after the last delivered one are
    // counted, up to UNDELIVERED_COUNTED (past it, the stream's length less the pending ones, which overcounts
    // by the acknowledged entries still waiting for a trim). Redis 7.0 reports the lag of a stream emptied by
    // deletions as if nothing had been deleted: an empty stream has none; and it keeps reporting one, too high,
    // after an undelivered entry is deleted once delivered ones were: the stream's length less the pending
    // entries bounds it (both count too many, never too few, but for a debounced job's entry between its
    // delivery and its start).
    const inProgress = Number(pending[0]);
    const lag = length === 0 ? 0 : typeof group?.lag === 'number' ? Math.max(0, Math.min(group.lag, length - inProgress)) : null;
    const next = (await this.redis.sendCommand(['XRANGE', stream, `(${lastDelivered}`, '+', 'COUNT', lag === null ? String(UNDELIVERED_COUNTED) : '1'])) as [string, string[]][];
    return {
      queued: lag ?? (next.length < UNDELIVERED_COUNTED ? next.length : Math.max(0, length - inProgress)),
      inProgress,
      oldestEntryMs: next.length ? Number(next[0][0].split('-')[0]) : Infinity,
    };
  }

  /** Live workers (those whose heartbeat has not lapsed). */
  async liveWorkers(): Promise<string[]> {
    if (this.partitions.length > 1) return [...new Set((await Promise.all(this.partitions.map((partition) => partition.liveWorkers()))).flat())];
    return this.#bounded(this.redis.zRangeByScore(this.keys.workers, this.clock.now(), '+inf'));
  }

  #call<T>(script: Script, keys: string[], args: string[]): Promise<T> {
    return this.#bounded(runScript<T>(this.redis, script, keys, args));
  }

  /** Waits for a call at most the queue's command bound; a failure or timeout is HttpError 503 (safe to retry). */
  bounded<T>(pending: Promise<T>): Promise<T> {
    return this.#bounded(pending);
  }

  async #bounded<T>(pending: Promise<T>, timeoutMs = this.#timeoutMs): Promise<T> {
    try {
      return await withTimeout(pending, timeoutMs);
    } catch (err) {
      throw queueUnavailable(err);
    }
  }
}

export function createQueue(options: QueueOptions): Queue {
  return new Queue(options);
}
