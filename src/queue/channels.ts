// Job event subscriptions for one process: one shared pub/sub connection, opened for the first listener and
// closed after the last, and a cap on how many listeners (open event streams) the process holds. While the
// connection is open the process is registered in the queue's listeners zset, without which workers publish
// no job events.
import { randomUUID } from 'node:crypto';
import { HttpError } from '../errors.ts';
import { withTimeout, type Redis } from '../redis/index.ts';
import type { Queue } from './queue.ts';

/** How long this process's entry in the queue's listeners zset lasts; renewed at a third of that while in use. */
const LISTENING_TTL_MS = 30_000;
/** Retry-After of the 503 past the cap: streams are long, but some end every few seconds in a busy process. */
const FULL_RETRY_AFTER_S = '5';

/** Bounds a Redis call made for a request (its deadline, or the command timeout). */
export type Bound = <T>(pending: Promise<T>) => Promise<T>;

export class JobChannels {
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

  /** Listeners now: open event streams, and requests about to open one. */
  get listeners(): number {
    return this.#listeners;
  }

  /**
   * Subscribes `onMessage` to the job's channel; resolves with the unsubscribe (call it once). Every call is
   * bounded by `bound`; a failure is a 503 and leaves nothing held.
   */
  async listen(id: string, onMessage: (message: string) => void, bound: Bound): Promise<() => Promise<void>> {
    if (this.#listeners >= this.maxListeners) {
      throw HttpError.of('SERVICE_UNAVAILABLE', 'This server follows as many jobs as it may; try again shortly.', { headers: { 'retry-after': FULL_RETRY_AFTER_S } });
    }
    this.#listeners++;
    const channel = this.queue.keys.job(id);
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
    const { redis, keys } = this.queue;
    const now = Date.now();
    return Promise.all([
      redis.zRemRangeByScore(keys.listeners, '-inf', now),
      redis.zAdd(keys.listeners, { score: now + LISTENING_TTL_MS, value: this.#member }),
    ]);
  }

  #unregister(): Promise<unknown> {
    return withTimeout(this.queue.redis.zRem(this.queue.keys.listeners, this.#member), this.timeoutMs).catch(() => {});
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
