// The consumer side: one worker reads its queue's stream through the consumer group, runs up to `maxJobs`
// attempts at once, and ends each with a compare-and-set script (batched per event-loop turn). Around that:
// heartbeats that keep its leases fresh, re-queueing of stalled entries (any worker's), promotion of due delayed
// jobs, abort requests over pub/sub, cron ticks, and a graceful stop that loses nothing and ends in bounded time.
import { hostname } from 'node:os';
import { errorFields, type Logger } from '../log.ts';
import { withTimeout, type Redis } from '../redis/index.ts';
import { Attempt, JobInterrupted } from './attempt.ts';
import { cronClock, scheduleCron, type CronEntry } from './cron.ts';
import { backoffDelay } from './job.ts';
import { DEAD_LETTER_MAX, PRIORITIES } from './keys.ts';
import { startPartitionedWorker } from './partitions.ts';
import type { Queue } from './queue.ts';
import { runScript, SCRIPTS } from './scripts.ts';
import { WorkerSlots } from './slots.ts';

export interface WorkerOptions {
  queue: Queue;
  /** Consumer name in the group; unique per process (WORKER_ID). */
  consumer: string;
  log: Logger;
  /** Attempts run at once (default 50; on a partitioned queue, shared equally by the partitions). */
  maxJobs?: number;
  /** An entry idle this long is presumed orphaned and re-queued by any worker (default 30 s). */
  leaseMs?: number;
  /** On stop, running attempts get this long to finish before they are interrupted and re-queued (default 25 s). */
  graceMs?: number;
  /** Longest one blocking read waits; also bounds how long stop() waits for the reader (default 1 s). */
  blockMs?: number;
  /** How often due deferred and retrying jobs are moved into the stream (default 200 ms). */
  promoteEveryMs?: number;
  cron?: CronEntry[];
}

export interface Worker {
  readonly consumer: string;
  /** Resolves once the consumer group exists and the worker is reading. */
  readonly ready: Promise<void>;
  /** Attempts running now. */
  running(): number;
  /**
   * Stops reading, lets running attempts finish within the grace period, re-queues the rest; idempotent. Resolves
   * within graceMs + STOP_SLACK_MS even when Redis hangs (what it could not write is re-queued by other workers).
   */
  stop(): Promise<void>;
}

type Outcome = 'complete' | 'retry' | 'fail' | 'abort' | 'release';

interface Settlement {
  run: Attempt;
  outcome: Outcome;
  value: string;
  retryAt: number;
  /** The error's stack for retry and fail ('' none). */
  stack: string;
}

const DEFAULT_MAX_JOBS = 50;

/** The longest error stack kept with a job. */
const MAX_STACK_CHARS = 4000;

type StreamEntry = [entryId: string, fields: string[]];
/** An entry read, with the priority of the stream it came from ('' normal), as startJobs-4 takes it. */
type ReadEntry = [entryId: string, jobId: string, priority: string];

/** Exponentially weighted moving average that starts at the first sample. */
const movingAverage = (average: number, sample: number) => (average === 0 ? sample : average * 0.9 + sample * 0.1);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `pending` (settled either way) at most `ms`; its timer goes once it settles, so none outlives a stop. */
const waitAtMost = (pending: Promise<unknown>, ms: number): Promise<unknown> => withTimeout(pending, Math.max(0, ms)).catch(() => {});

/** The longest stop() waits on Redis in all, beyond the grace period: its writes, and the reader before them. */
export const STOP_SLACK_MS = 3000;

/**
 * How often a worker looks for stalled entries: often enough that an orphaned job runs again within lease + 2 s,
 * and cheaply (one script call that scans the pending list).
 */
export const requeueEveryMs = (leaseMs: number): number => Math.max(10, Math.min(500, Math.floor(leaseMs / 4)));

/** Most stalled entries handled in one script call (another call follows at once when there were more). */
const REQUEUE_BATCH = 1000;

/** While its queue is paused, a worker looks this often (at most) whether it was resumed. */
const PAUSE_POLL_MS = 500;

/**
 * Settle calls a worker has out at once. Past them, what ends waits for an answer and goes in the next call: a busy
 * worker's batches grow (Redis's cost per job falls by a sixth from batches of 50 to 200), an idle one's settle
 * leaves at once, and with two out Redis always has the next batch when it ends one.
 */
const SETTLES_IN_FLIGHT = 2;

/** Job ids a heartbeat shows operators per worker (its `running` count is exact). */
const SHOWN_JOBS = 20;
const HOST = hostname();

class QueueWorker implements Worker {
  readonly consumer: string;
  readonly ready: Promise<void>;
  readonly #queue: Queue;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #maxJobs: number;
  readonly #leaseMs: number;
  readonly #graceMs: number;
  readonly #blockMs: number;
  /** Attempts this worker owns: running, waiting for a handler slot, or ended and not yet written. */
  readonly #running = new Map<string, Attempt>();
  /** Handler slots, prefetched attempts (they start as slots free, right after each settle is sent), and slots
   *  promised to reads in flight. */
  readonly #slots: WorkerSlots<Attempt>;
  /** Moving averages of a handler's run time and of a settle round trip (ms), which size the prefetch. */
  #jobMs = 0;
  #roundTripMs = 0;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #stopCrons: (() => void)[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #blocking: Redis | null = null;
  #subscriber: Redis | null = null;
  #pending: Settlement[] = [];
  #flushScheduled = false;
  /** Settle calls sent and not answered yet (at most SETTLES_IN_FLIGHT). */
  #settling = 0;
  #stopping = false;
  /** Set once stop() is done: nothing is retried after it. */
  #closed = false;
  #stopped: Promise<void> | null = null;
  #reader: Promise<void> = Promise.resolve();
  /** Wakes the reader (a slot freed) and stop() (the last attempt ended). */
  #waiters: (() => void)[] = [];
  #redisDown = false;
  /** Set when startJobs-4 found the queue paused; the reader then polls the flag instead of reading. */
  #paused = false;
  /** While the queue's rate limit allows no start (until this performance.now()), nothing is read. */
  #throttledUntil = 0;

  constructor(options: WorkerOptions) {
    this.#queue = options.queue;
    this.#redis = options.queue.redis;
    this.consumer = options.consumer;
    this.#log = options.log.child({ component: 'worker', queue: options.queue.name, worker: options.consumer });
    this.#maxJobs = options.maxJobs ?? DEFAULT_MAX_JOBS;
    this.#slots = new WorkerSlots(this.#maxJobs);
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#graceMs = options.graceMs ?? 25_000;
    this.#blockMs = options.blockMs ?? 1000;
    this.ready = this.#start(options);
  }

  running(): number {
    return this.#slots.running;
  }

  /**
   * How many attempts a busy worker owns: maxJobs, plus a prefetch so short jobs never wait a round trip for
   * their successors — what maxJobs handlers finish during one settle round trip (Little's law), capped at four times
   * maxJobs (enough for two settle batches in flight while handlers run more: bigger batches cost Redis less per
   * job). Long jobs get none, so a busy worker never sits on jobs an idle one could run.
   */
  #capacity(): number {
    if (this.#jobMs <= 0) return this.#maxJobs;
    return this.#maxJobs + Math.min(4 * this.#maxJobs, Math.floor((this.#maxJobs * this.#roundTripMs) / this.#jobMs));
  }

  async #start(options: WorkerOptions): Promise<void> {
    // Both clients exist before the first wait, so a stop during start-up always has them to destroy.
    const blocking = (this.#blocking = this.#duplicate('blocking'));
    const subscriber = (this.#subscriber = this.#duplicate('abort-listener'));
    await Promise.all([blocking.connect().catch(() => {}), subscriber.connect().catch(() => {})]);
    await subscriber.subscribe(this.#queue.keys.abortChannel, (id: string) => {
      const run = this.#running.get(id);
      if (run !== undefined) this.#interrupt(run, new JobInterrupted('abort', 'aborted by request'));
    });
    while (!this.#stopping) {
      try {
        await this.#queue.ensureGroup();
        break;
      } catch (err) {
        this.#outage(err);
        await sleep(200);
      }
    }
    // Register as live, and put back what workers that died before this one started left behind.
    await this.#heartbeat().catch((err: unknown) => this.#outage(err));
    await this.#requeueStalled().catch((err: unknown) => this.#outage(err));
    // A stop that came during start-up (on a hung Redis it does not wait for it) leaves nothing running.
    if (this.#stopping) return;
    const every = (ms: number, tick: () => Promise<unknown>): NodeJS.Timeout => {
      let busy = false;
      return setInterval(() => {
        if (busy) return;
        busy = true;
        tick().then(() => this.#recovered(), (err: unknown) => this.#outage(err)).finally(() => (busy = false));
      }, ms);
    };
    // The heartbeat outlives the other timers: it keeps leases fresh through the grace period.
    this.#heartbeatTimer = every(Math.max(10, Math.floor(this.#leaseMs / 3)), () => this.#heartbeat());
    // Timeouts are swept rather than timed one by one (a timer per attempt costs more than a short job): the
    // sweep runs at a tenth of the shortest timeout, so an attempt overruns its timeout by at most that.
    const shortest = Math.min(...[...this.#queue.jobs.values()].map((d) => d.timeoutMs));
    this.#expiryTimer = setInterval(() => this.#expire(), Math.min(1000, Math.max(10, shortest / 10)));
    this.#timers.push(every(requeueEveryMs(this.#leaseMs), () => this.#requeueStalled()));
    this.#timers.push(every(Math.max(10, Math.floor(this.#leaseMs / 2)), () => this.#retireConsumers('')));
    this.#timers.push(every(options.promoteEveryMs ?? 200, () => this.#promote()));
    const cronTime = cronClock(this.#queue.clock);
    for (const entry of options.cron ?? []) this.#stopCrons.push(scheduleCron(entry.schedule, (tick) => this.#enqueueTick(entry, tick), cronTime));
    this.#reader = this.#read();
    this.#log.info('worker started', { max_jobs: this.#maxJobs, lease_ms: this.#leaseMs });
  }

  #duplicate(role: string): Redis {
    const client = this.#redis.duplicate({ name: `${this.consumer}:${role}` }) as unknown as Redis;
    // Errors surface on the commands themselves; the listener keeps node-redis from throwing them globally.
    client.on('error', () => {});
    return client;
  }

  #outage(err: unknown): void {
    if (this.#redisDown || this.#stopping) return;
    this.#redisDown = true;
    this.#log.warn('redis unavailable; worker keeps retrying', errorFields(err));
  }

  #recovered(): void {
    if (!this.#redisDown) return;
    this.#redisDown = false;
    this.#log.info('redis back; worker resumes');
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #read(): Promise<void> {
    const k = this.#queue.keys;
    const streams = PRIORITIES.map((p) => k.streams[p]);
    const priorityOf = new Map(PRIORITIES.map((p) => [k.streams[p], p === 'normal' ? '' : p]));
    let failures = 0;
    while (!this.#stopping) {
      // Blocking reads pick up work for free handler slots; only a busy worker's refills prefetch (see #flush).
      if (this.#paused) {
        await sleep(Math.min(this.#blockMs, PAUSE_POLL_MS));
        this.#paused = await this.#redis.exists(k.paused).then((n) => n === 1, () => true);
        continue;
      }
      const free = this.#slots.blockingReadSize();
      if (free === 0) {
        await this.#changed();
        continue;
      }
      if (this.#queue.rateLimit !== '') {
        await this.#readLimited(free);
        continue;
      }
      let reply: unknown;
      this.#slots.blockingRead(free);
      try {
        // A third of the free slots from each priority at most (COUNT is per stream): it wakes the worker, and
        // startJobs-4 fills the other free slots by its weighted pick in the same round trip.
        reply = await (this.#blocking as Redis).sendCommand([
          'XREADGROUP', 'GROUP', k.group, this.consumer, 'COUNT', String(Math.ceil(free / streams.length)), 'BLOCK', String(this.#blockMs), 'STREAMS', ...streams, '>', '>', '>',
        ]);
        failures = 0;
        this.#recovered();
      } catch (err) {
        await this.#readFailed(err, Math.min(50 * 2 ** failures++, 1000));
        continue;
      } finally {
        this.#slots.blockingRead(0);
      }
      if (reply === null) continue;
      const read: ReadEntry[] = [];
      const byStream = (Array.isArray(reply) ? reply : Object.entries(reply as Record<string, StreamEntry[]>)) as [string, StreamEntry[]][];
      for (const [stream, entries] of byStream) for (const [entry, fields] of entries) read.push([entry, fields[1], priorityOf.get(String(stream)) ?? '']);
      await this.#begin(read, Math.max(0, free - read.length)).catch((err: unknown) => this.#outage(err));
    }
  }

  /**
   * A rate-limited queue's read: startJobs-4 reads only the entries the limit lets start now, so no worker is
   * handed a job it may not start. Once the limit is spent the reader sleeps until the script says it allows
   * another start; when the streams ran dry it blocks in XREAD on all of them (outside the group: it takes nothing)
   * until an entry newer than their last ones arrives.
   */
  async #readLimited(free: number): Promise<void> {
    const throttled = this.#throttledUntil - performance.now();
    if (throttled > 0) return sleep(Math.min(throttled, this.#blockMs));
    try {
      const after = await this.#begin([], free);
      if (after !== '') {
        const k = this.#queue.keys;
        await (this.#blocking as Redis).sendCommand(['XREAD', 'COUNT', '1', 'BLOCK', String(this.#blockMs), 'STREAMS', ...PRIORITIES.map((p) => k.streams[p]), ...after.split(' ')]);
      }
      this.#recovered();
    } catch (err) {
      await this.#readFailed(err, Math.min(200, this.#blockMs));
    }
  }

  async #readFailed(err: unknown, backoffMs: number): Promise<void> {
    this.#outage(err);
    // The group is gone when Redis came back without its data (also inside startJobs-4): recreate it, read on.
    if (err instanceof Error && /(^|\s)NOGROUP/.test(err.message)) await this.#queue.ensureGroup().catch(() => {});
    else await sleep(backoffMs);
  }

  /**
   * Turns read entries, plus up to `read` new ones, into running attempts (one script call). On a rate-limited
   * queue, answers the streams' last entries when they ran dry (high, normal, low; '' otherwise), and notes how
   * long the limit holds.
   */
  async #begin(entries: ReadEntry[], read: number): Promise<string> {
    if (entries.length === 0 && read <= 0) return '';
    const k = this.#queue.keys;
    const args = [k.group, k.jobPrefix, this.consumer, String(this.#queue.clock.now()), String(DEAD_LETTER_MAX), String(read), k.base, this.#queue.retention, this.#queue.rateLimit];
    for (const [entry, job, priority] of entries) args.push(entry, job, priority);
    // Entries already read, and those to read, hold their slots until they are attempts.
    const claimed = entries.length + read;
    this.#slots.reserve(claimed);
    let started: (string | number)[] | -1;
    try {
      started = await runScript(this.#redis, SCRIPTS.startJobs, [k.stream, k.dead, k.stats, k.listeners], args);
    } finally {
      if (this.#slots.unreserve(claimed)) this.#wake();
    }
    if (started === -1) {
      // Paused: the entries went back to the stream; running attempts finish, nothing new starts.
      this.#paused = true;
      return '';
    }
    let after = '';
    if (this.#queue.rateLimit !== '') {
      after = started.pop() as string;
      this.#throttledUntil = performance.now() + (started.pop() as number);
    }
    for (let i = 0; i < started.length; i += 5) {
      const id = started[i] as string;
      const name = started[i + 2] as string;
      const superseded = this.#running.get(id);
      if (superseded !== undefined) this.#interrupt(superseded, new JobInterrupted('lost', 'superseded by a newer attempt'));
      const run = new Attempt(id, started[i + 1] as string, started[i + 4] as number, name, started[i + 3] as string, this.#queue.jobs.get(name), this.#redis, this.#log, this.#report);
      this.#running.set(id, run);
      if (this.#stopping) this.#interrupt(run, new JobInterrupted('shutdown', 'worker shutting down'));
      else if (this.#slots.admit(run)) this.#execute(run);
    }
    return after;
  }

  /** Starts the handler; the attempt ends when it settles or when #interrupt ends it first. */
  #execute(run: Attempt): void {
    const def = run.def;
    const payload = run.payload;
    run.payload = '';
    run.startedAt = performance.now();
    this.#slots.started();
    if (def === undefined) {
      this.#end(run);
      return this.#fail(run, `no handler for job "${run.name}" in this worker`);
    }
    run.deadline = run.startedAt + def.timeoutMs;
    let pending: Promise<unknown>;
    try {
      pending = def.handler(JSON.parse(payload), run);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => {
        if (!this.#end(run)) return;
        let value: string;
        try {
          value = JSON.stringify(result ?? null);
        } catch (err) {
          return this.#fail(run, `result is not JSON: ${err instanceof Error ? err.message : String(err)}`);
        }
        this.#settle({ run, outcome: 'complete', value, retryAt: 0, stack: '' });
      },
      (err: unknown) => {
        if (this.#end(run)) this.#fail(run, err instanceof Error ? err.message : String(err), err instanceof Error ? (err.stack ?? '').slice(0, MAX_STACK_CHARS) : '');
      },
    );
  }

  #expire(): void {
    const now = performance.now();
    for (const run of this.#running.values()) {
      if (!run.ended && now >= run.deadline) this.#interrupt(run, new JobInterrupted('timeout', `timed out after ${run.def?.timeoutMs} ms`));
    }
  }

  /** Ends a running attempt from outside its handler: timeout, abort request, shutdown, or a lost lease. */
  #interrupt(run: Attempt, reason: JobInterrupted): void {
    if (!this.#end(run)) return;
    run.interrupt(reason);
    switch (reason.kind) {
      case 'lost':
        this.#log.warn('attempt abandoned: its lease was lost', { job: run.jobId, attempt: run.attempt });
        this.#forget(run);
        return this.#pump();
      case 'abort':
        return this.#settle({ run, outcome: 'abort', value: reason.message, retryAt: 0, stack: '' });
      case 'shutdown':
        return this.#settle({ run, outcome: 'release', value: '', retryAt: 0, stack: '' });
      case 'timeout':
        return this.#fail(run, reason.message);
    }
  }

  /** Marks an attempt ended (false when it already was) and frees its handler slot. */
  #end(run: Attempt): boolean {
    if (!run.end()) return false;
    if (run.startedAt > 0) {
      this.#slots.ended();
      this.#jobMs = movingAverage(this.#jobMs, performance.now() - run.startedAt);
    }
    // A stopping worker waits for its handlers, not for Redis to take their outcomes.
    if (this.#stopping) this.#wake();
    return true;
  }

  /** Starts prefetched attempts in the free handler slots. */
  #pump(): void {
    for (let run = this.#slots.nextWaiting(); run !== undefined; run = this.#slots.nextWaiting()) {
      if (!run.ended) this.#execute(run);
    }
  }

  #fail(run: Attempt, message: string, stack = ''): void {
    const def = run.def;
    if (def !== undefined && run.attempt < def.maxTries) {
      this.#settle({ run, outcome: 'retry', value: message, retryAt: this.#queue.clock.now() + backoffDelay(def.backoff, run.attempt), stack });
    } else {
      this.#settle({ run, outcome: 'fail', value: message, retryAt: 0, stack });
    }
  }

  readonly #report = async (run: Attempt, value: number): Promise<void> => {
    if (!Number.isFinite(value)) throw new TypeError('progress must be a finite number');
    await runScript(this.#redis, SCRIPTS.reportProgress, [this.#queue.keys.job(run.jobId)], [String(run.attempt), String(value), run.takeLogs()]);
  };

  #settle(s: Settlement): void {
    this.#pending.push(s);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flush());
  }

  /**
   * Ends every attempt settled since the last call with one script call, unless SETTLES_IN_FLIGHT are out (the
   * answer to one sends the next); retried while Redis is away.
   */
  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#settling >= SETTLES_IN_FLIGHT) return this.#pump();
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const k = this.#queue.keys;
    const args = [k.group, k.jobPrefix, String(this.#queue.clock.now()), String(DEAD_LETTER_MAX), k.base, this.#queue.retention];
    for (const s of batch) args.push(s.run.jobId, s.run.entry, String(s.run.attempt), s.outcome, s.value, String(s.retryAt), s.run.takeLogs(), s.stack);
    const sentAt = performance.now();
    this.#settling++;
    const settled = runScript<number[]>(this.#redis, SCRIPTS.settleJobs, [k.stream, k.delayed, k.dead, k.stats, k.listeners], args);
    // Refill the slots this batch frees in the same round trip (both calls leave in one write), and run
    // prefetched attempts while Redis works on both.
    if (!this.#stopping && !this.#paused && performance.now() >= this.#throttledUntil) {
      this.#begin([], this.#slots.refillSize(this.#capacity())).catch((err: unknown) => this.#outage(err));
    }
    this.#pump();
    try {
      const applied = await settled;
      this.#roundTripMs = movingAverage(this.#roundTripMs, performance.now() - sentAt);
      // The jobs stay settled either way; a failover before a replica has them runs them again after their lease.
      if ((await this.#queue.confirmWrites(this.#redis)) === false) this.#log.warn('settled jobs not acknowledged by the replicas in time: a failover now would run them again', { jobs: batch.length });
      this.#recovered();
      for (let i = 0; i < batch.length; i++) {
        if (applied[i] === 0) this.#log.warn('stale attempt ignored: the job moved on without it', { job: batch[i].run.jobId, attempt: batch[i].run.attempt });
        this.#forget(batch[i].run);
      }
      // What ended while the calls were out goes now (after a failure, the retry below takes it).
      if (this.#pending.length > 0 && !this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => void this.#flush());
      }
    } catch (err) {
      this.#outage(err);
      this.#pending.unshift(...batch);
      if (!this.#flushScheduled && !this.#closed) {
        this.#flushScheduled = true;
        setTimeout(() => void this.#flush(), 200);
      }
    } finally {
      this.#settling--;
    }
  }

  #forget(run: Attempt): void {
    if (this.#running.get(run.jobId) === run) this.#running.delete(run.jobId);
    this.#wake();
  }

  async #heartbeat(): Promise<void> {
    const k = this.#queue.keys;
    const now = this.#queue.clock.now();
    const runs = [...this.#running.values()];
    const shown = JSON.stringify({ host: HOST, pid: process.pid, running: runs.length, jobs: runs.slice(0, SHOWN_JOBS).map((r) => r.jobId), beat: now });
    const args = [k.group, this.consumer, k.jobPrefix, String(now), String(now + this.#leaseMs), k.base, shown];
    for (const run of runs) args.push(run.jobId, run.entry, String(run.attempt));
    const states = await runScript<number[]>(this.#redis, SCRIPTS.heartbeat, [k.stream, k.workers], args);
    for (let i = 0; i < runs.length; i++) {
      if (states[i] === 1) this.#interrupt(runs[i], new JobInterrupted('lost', 'lease lost: the job was reclaimed or ended elsewhere'));
      else if (states[i] === 2) this.#interrupt(runs[i], new JobInterrupted('abort', 'aborted by request'));
    }
  }

  /**
   * Puts entries idle past the lease (their worker died or stalled) back in the stream, whatever this worker's
   * free slots: any worker with a free slot then reads them at once.
   */
  async #requeueStalled(): Promise<void> {
    const k = this.#queue.keys;
    const args = [k.group, this.consumer, String(this.#leaseMs), k.jobPrefix, String(REQUEUE_BATCH), String(this.#queue.clock.now()), k.base];
    for (;;) {
      const [handled, requeued] = await runScript<[number, number]>(this.#redis, SCRIPTS.requeueStalled, [k.stream], args);
      if (requeued > 0) this.#log.info('re-queued stalled jobs', { count: requeued });
      if (handled < REQUEUE_BATCH) return;
    }
  }

  /** Drops consumers with nothing pending that left (this one, on stop) or idled past twice the lease. */
  async #retireConsumers(leaving: string): Promise<void> {
    const k = this.#queue.keys;
    await runScript(this.#redis, SCRIPTS.retireConsumers, [k.stream, k.workers], [k.group, String(2 * this.#leaseMs), leaving, k.base]);
  }

  async #promote(): Promise<void> {
    const k = this.#queue.keys;
    await runScript(this.#redis, SCRIPTS.promoteDelayed, [k.delayed, k.stream], [k.jobPrefix, String(this.#queue.clock.now()), '1000', k.base]);
  }

  #enqueueTick(entry: CronEntry, tick: number): void {
    // Every worker enqueues the tick; the id derived from it makes all but the first a no-op.
    this.#queue.enqueue(entry.job, entry.payload, { idempotencyKey: `cron:${entry.expression}:${tick}` })
      .catch((err: unknown) => this.#log.warn('cron tick not enqueued', { job_name: entry.job.name, tick, ...errorFields(err) }));
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    // Start-up may never finish on a hung Redis: it checks #stopping before it starts anything, and its failure
    // once the clients below are destroyed is no one's concern.
    this.ready.catch(() => {});
    const graceEnds = Date.now() + this.#graceMs;
    // The reader returns within one block; it is waited for below, within the slack.
    const readerDone = waitAtMost(this.#reader, this.#blockMs + 1000);
    for (const t of this.#timers) clearInterval(t);
    for (const stopCron of this.#stopCrons) stopCron();
    this.#wake();
    this.#log.info('worker stopping', { running: this.#running.size, grace_ms: this.#graceMs });
    // Attempts that have not started go back at once (those still being read are released as they come, #begin).
    for (const run of this.#slots.takeWaiting()) this.#interrupt(run, new JobInterrupted('shutdown', 'worker shutting down'));
    while (this.#slots.running > 0 && Date.now() < graceEnds) await waitAtMost(this.#changed(), graceEnds - Date.now());
    for (const run of this.#running.values()) this.#interrupt(run, new JobInterrupted('shutdown', 'worker shutting down'));
    // From here on only Redis is waited for, STOP_SLACK_MS at most: the last read, the writes of ended and
    // re-queued attempts, and leaving the group. What a hung Redis never took is re-queued by other workers.
    const slackEnds = Date.now() + STOP_SLACK_MS;
    await readerDone;
    while (this.#running.size > 0 && Date.now() < slackEnds - 500) await waitAtMost(this.#changed(), slackEnds - 500 - Date.now());
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#expiryTimer);
    await waitAtMost(this.#retireConsumers(this.consumer), slackEnds - Date.now());
    this.#closed = true;
    for (const client of [this.#blocking, this.#subscriber]) {
      if (client?.isOpen) client.destroy();
    }
    this.#log.info('worker stopped', { left_running: this.#running.size });
  }

}

export function startWorker(options: WorkerOptions): Worker {
  if (options.queue.partitions.length > 1) return startPartitionedWorker({ ...options, maxJobs: options.maxJobs ?? DEFAULT_MAX_JOBS }, startWorker);
  return new QueueWorker(options);
}
