// Job events for one process, the one home of everything behind GET /jobs/{id}/events: `JobEvents.open` subscribes
// to a job's pub/sub channel, reads the job, and returns the Server-Sent Events body, which re-reads the job at each
// heartbeat so a listener that missed a message (Redis restarted) still sees the end. Underneath, `JobChannels`
// holds one shared pub/sub connection, opened for the first listener and closed after the last, and a cap on how
// many listeners (open event streams) the process holds. While the connection is open the process is registered
// in the queue's listeners zset (each partition's, on a partitioned queue), without which workers publish no job
// events.
import { randomUUID } from 'node:crypto';
import { HttpError } from '../errors.ts';
import { withTimeout, type Redis } from '../redis/index.ts';
import type { RequestContext } from '../router/index.ts';
import { jobView, TERMINAL_STATUSES, type JobRecord, type JobStatus } from './job.ts';
import type { Queue } from './queue.ts';

/** How long this process's entry in the queue's listeners zset lasts; renewed at a third of that while in use. */
const LISTENING_TTL_MS = 30_000;
/** Retry-After of the 503 past the cap: streams are long, but some end every few seconds in a busy process. */
const FULL_RETRY_AFTER_S = '5';

/** Bounds a Redis call made for a request (its deadline, or the command timeout). */
type Bound = <T>(pending: Promise<T>) => Promise<T>;

class JobChannels {
  #client: Redis | null = null;
  /** Connecting and registering, shared by the listeners that arrive meanwhile. */
  #opening: Promise<void> | null = null;
  #listeners = 0;
  #renewal: NodeJS.Timeout | undefined;
  readonly #member = randomUUID();

  /**
   * @param timeoutMs bounds the calls made when a listener leaves (its request is over: no deadline of its own)
   * @param maxListeners past it, `listen` answers 503 with Retry-After
   */
  constructor(private readonly queue: Queue, private readonly timeoutMs: number, private readonly maxListeners: number) {}

  /**
   * Subscribes `onMessage` to the job's channel; resolves with the unsubscribe (call it once). Every call is
   * bounded by `bound`; a failure is a 503 and leaves nothing held.
   */
  async listen(id: string, onMessage: (message: string) => void, bound: Bound): Promise<() => Promise<void>> {
    if (this.#listeners >= this.maxListeners) {
      throw HttpError.of('SERVICE_UNAVAILABLE', 'This server follows as many jobs as it may; try again shortly.', { headers: { 'retry-after': FULL_RETRY_AFTER_S } });
    }
    this.#listeners++;
    const channel = this.queue.partitionOf(id).keys.job(id);
    try {
      if (this.#client === null) {
        const client = (this.#client = this.queue.redis.duplicate() as unknown as Redis);
        client.on('error', () => {}); // failures surface as 503 on subscribe, or as missed messages
        this.#opening = this.#open(client);
      }
      // Registered before the caller reads the job: every change after that read is published.
      await bound(this.#opening!);
      await bound(this.#client.subscribe(channel, onMessage));
    } catch (err) {
      // Not awaited: the request's deadline is spent, and taking back the registration waits on the same Redis.
      void this.#release();
      throw HttpError.of('SERVICE_UNAVAILABLE', 'Job events are unavailable; try again shortly.', { cause: err });
    }
    const client = this.#client;
    return async () => {
      // Bounded: a hung Redis must not hold the end of an event stream.
      if (this.#client === client) await withTimeout(client.unsubscribe(channel, onMessage), this.timeoutMs).catch(() => {});
      await this.#release();
    };
  }

  async #open(client: Redis): Promise<void> {
    await client.connect();
    await this.#register();
    if (this.#client !== client) {
      // The last listener left while this was opening: take back the registration just made.
      await this.#unregister();
      return;
    }
    this.#renewal = setInterval(() => void this.#register().catch(() => {}), LISTENING_TTL_MS / 3).unref();
  }

  /**
   * Registers (or renews) this process as a listener, pruning registrations that lapsed. Two commands sent in one
   * write rather than a MULTI: node-redis queues a MULTI while disconnected (it ignores disableOfflineQueue), which
   * would register a process after its last listener left.
   */
  #register(): Promise<unknown> {
    const { redis, partitions } = this.queue;
    const now = this.queue.clock.now();
    return Promise.all(partitions.flatMap(({ keys }) => [
      redis.zRemRangeByScore(keys.listeners, '-inf', now),
      redis.zAdd(keys.listeners, { score: now + LISTENING_TTL_MS, value: this.#member }),
    ]));
  }

  #unregister(): Promise<unknown> {
    const { redis, partitions } = this.queue;
    return withTimeout(Promise.all(partitions.map(({ keys }) => redis.zRem(keys.listeners, this.#member))), this.timeoutMs).catch(() => {});
  }

  async #release(): Promise<void> {
    if (--this.#listeners > 0 || this.#client === null) return;
    const client = this.#client;
    this.#client = null;
    this.#opening?.catch(() => {});
    this.#opening = null;
    client.destroy();
    clearInterval(this.#renewal);
    await this.#unregister();
  }
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
/** The last event of a stream the server ends because it is stopping: reconnect soon (another process answers). */
const SHUTDOWN_EVENT = `event: end\nretry: 500\ndata: {"reason":"shutting_down"}\n\n`;

interface JobEvent { revision: number; status: JobStatus; progress: number | null }

function sse(event: string, revision: number, data: unknown): string {
  return `event: ${event}\nid: ${revision}\ndata: ${JSON.stringify(data)}\n\n`;
}

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

export interface JobEventsOptions {
  /** Between heartbeat comments, each followed by a re-read of the job. */
  heartbeatMs: number;
  /** Bounds each Redis call a stream makes when it ends, after its request. */
  redisTimeoutMs: number;
  /** Event streams this process holds at once; past it, 503 with Retry-After. */
  maxStreams: number;
}

/** An event stream's body, and what releases its subscription (the route hands both to `ctx.stream`). */
export interface JobEventStream {
  body: AsyncGenerator<string>;
  close: () => Promise<void>;
}

export class JobEvents {
  readonly #channels: JobChannels;

  constructor(private readonly queue: Queue, private readonly options: JobEventsOptions) {
    this.#channels = new JobChannels(queue, options.redisTimeoutMs, options.maxStreams);
  }

  /**
   * Subscribes to job `id`, then reads it with `load` (which throws when this caller may not see it); both share
   * the request's one Redis deadline. On failure nothing stays held; on success the caller owns `close`.
   */
  async open(ctx: RequestContext, id: string, load: () => Promise<JobRecord>): Promise<JobEventStream> {
    const inbox = new Inbox(ctx);
    const close = await this.#channels.listen(id, inbox.push, (pending) => ctx.deadline.bound(pending));
    let first: JobRecord;
    try {
      first = await ctx.deadline.bound(load());
    } catch (err) {
      await close();
      throw err;
    }
    return { body: this.#follow(ctx, first, inbox), close };
  }

  /** The stream after its first event: messages in revision order, a heartbeat and re-read when quiet. */
  async *#follow(ctx: RequestContext, first: JobRecord, inbox: Inbox): AsyncGenerator<string> {
    const messages = inbox.events;
    const reload = () => this.queue.getJob(first.id);
    let last: JobEvent = { revision: first.revision, status: first.status, progress: first.progress };
    yield `retry: 2000\n\n` + sse('status', first.revision, jobView(first));
    let current: JobEvent | null = TERMINAL_STATUSES.has(first.status) ? null : last;
    while (current !== null) {
      if (messages.length === 0) {
        await inbox.wait(this.options.heartbeatMs);
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
}
