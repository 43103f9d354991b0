// The in-process tier in front of the Redis store: decoded entries this process read, kept coherent by Redis
// server-assisted client-side caching. Every entry it holds was read with GET on one connection of its own that
// has `CLIENT TRACKING ON` (RESP3), so Redis pushes an `invalidate` for the key on that connection when anyone
// writes, deletes or expires it: a store, an invalidation by tag or namespace, in any process. A hit is then a
// Map lookup, with no Redis round trip.
//
// It serves only while it can know: when the connection drops, or a heartbeat PING goes unanswered past the
// silence bound (a hung or partitioned Redis cannot deliver invalidations), it empties itself and is bypassed
// (reads go to Redis) until a PING on a ready, tracking connection is answered again.
import type { Logger } from '../log.ts';
import { BINARY_REPLIES, closeRedis, type Redis } from '../redis/index.ts';
import { decodeEntry, type StoredResponse } from './entry.ts';

export interface LocalTierOptions {
  /** Bound of what the entries hold (stored bytes, plus the uncompressed body of a compressed one). */
  maxBytes: number;
  log: Logger;
  /** Bounds the close of its connection (usually the Redis command timeout). */
  timeoutMs: number;
  /** How often the connection is probed (default 100 ms). */
  heartbeatMs?: number;
  /** A probe unanswered this long suspends the tier (default 500 ms). */
  silenceMs?: number;
}

interface Slot {
  entry: StoredResponse;
  bytes: number;
  /** Looked up since it was stored or last given a second chance (CLOCK's reference bit). */
  used: boolean;
}

/** A GET in flight on the tracking connection; `dirty` once the key was invalidated meanwhile. */
interface Read {
  dirty: boolean;
}

/** Map and key overhead per entry, roughly; counted so that many small entries still respect the bound. */
const SLOT_OVERHEAD_BYTES = 200;

/**
 * A tier on a connection of its own, duplicated from `client` (a single Redis server's client: tracking is per
 * connection per server, so a cluster or Sentinel client does not get one): RESP3, `CLIENT TRACKING ON` sent by
 * node-redis at every (re)connect, invalidation pushes as 'invalidate' events. Its socket does not keep the
 * process alive; `close()` releases it.
 */
export function openLocalTier(client: Redis, options: LocalTierOptions): LocalTier {
  const connection = client.duplicate({ RESP: 3, emitInvalidate: true, name: 'skiff-cache-tracking' } as never) as Redis;
  const tier = new LocalTier(connection, options);
  // It lives as long as the client it came from: closing that (a test's, or a process stopping without
  // cache.close()) closes the tier too, so its reconnect timers never outlive the client.
  const follow = () => void tier.close();
  const events = client as unknown as NodeJS.EventEmitter;
  events.once('end', follow);
  tier.onClose(() => events.off('end', follow));
  connection.unref();
  // A failed connect is an 'error' event too, which the tier has heard (it keeps not serving); reconnects go on.
  connection.connect().catch(() => {});
  return tier;
}

export class LocalTier {
  readonly #connection: Redis;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  readonly #silenceMs: number;
  readonly #log: Logger;
  // Least recently used first, approximately (CLOCK): a hit only sets the slot's `used` bit, eviction walks from
  // the oldest insertion and moves a used slot to the end once instead of dropping it. A re-insertion per hit
  // (exact LRU) cost ~0.3 µs, a tenth of a hit.
  readonly #slots = new Map<string, Slot>();
  readonly #reads = new Map<string, Read[]>();
  readonly #heartbeat: NodeJS.Timeout;
  #bytes = 0;
  #serving = false;
  /** Bumped whenever the tier empties: a read begun before must not refill it. */
  #generation = 0;
  /** When the unanswered PING was sent (0: none in flight). */
  #pingSentAt = 0;
  #closed = false;
  #onClose: (() => void) | null = null;
  /** Times the tier suspended itself (connection lost or silent). */
  suspensions = 0;

  /** `connection` must emit 'invalidate' for the keys it read (RESP3, `emitInvalidate`); the tier closes it. */
  constructor(connection: Redis, options: LocalTierOptions) {
    this.#connection = connection;
    this.#maxBytes = options.maxBytes;
    this.#timeoutMs = options.timeoutMs;
    this.#silenceMs = options.silenceMs ?? 500;
    this.#log = options.log.child({ component: 'cache-local-tier' });
    const events = connection as unknown as NodeJS.EventEmitter;
    events.on('invalidate', (key: string | Buffer | null) => this.#invalidate(key));
    events.on('error', () => this.#suspend('tracking connection failed'));
    events.on('end', () => this.#suspend('tracking connection closed'));
    events.on('reconnecting', () => this.#suspend('tracking connection lost'));
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs ?? 100).unref();
    this.#beat();
  }

  /** Whether lookups may answer: the tracking connection is up and answered its last probe in time. */
  get serving(): boolean {
    return this.#serving;
  }

  /** Entries held and the bytes they count for. */
  get size(): number {
    return this.#slots.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry held for the Redis key, as current as Redis's; null when not held or not serving. */
  lookup(key: string): StoredResponse | null {
    const slot = this.#slots.get(key);
    if (slot === undefined) return null;
    slot.used = true;
    return slot.entry;
  }

  /**
   * GET on the tracking connection, so that Redis tells this process when the key changes, and keeps what it
   * read unless the key was invalidated (or the tier emptied) while the reply was on its way.
   */
  async read(key: string): Promise<Buffer | null> {
    const read: Read = { dirty: false };
    const generation = this.#generation;
    let reads = this.#reads.get(key);
    if (reads === undefined) this.#reads.set(key, (reads = []));
    reads.push(read);
    try {
      const reply = await this.#connection.sendCommand(['GET', key], BINARY_REPLIES);
      if (!Buffer.isBuffer(reply)) return null;
      // An invalidation pushed right behind the reply is handled before this continuation runs: `dirty` sees it.
      if (!read.dirty && generation === this.#generation && this.#serving) this.#keep(key, reply);
      return reply;
    } finally {
      reads.splice(reads.indexOf(read), 1);
      if (reads.length === 0 && this.#reads.get(key) === reads) this.#reads.delete(key);
    }
  }

  /** Called once when the tier closes. */
  onClose(listener: () => void): void {
    this.#onClose = listener;
  }

  /** Stops the heartbeat and closes the connection (replies due get up to the command timeout). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose?.();
    clearInterval(this.#heartbeat);
    this.#serving = false;
    this.#empty();
    await closeRedis(this.#connection, this.#timeoutMs);
  }

  #keep(key: string, reply: Buffer): void {
    // A copy: the reply may be a view into a larger socket chunk that the entry would otherwise pin.
    const raw = Buffer.from(reply);
    const entry = decodeEntry(raw);
    if (entry === null) return;
    const bytes = raw.length + (entry.brotliEtag === null ? 0 : entry.identityLength) + key.length + SLOT_OVERHEAD_BYTES;
    if (bytes > this.#maxBytes) return;
    this.#drop(key);
    this.#slots.set(key, { entry, bytes, used: false });
    this.#bytes += bytes;
    // Every used slot is moved (and cleared) at most once, so the walk ends; the entry just kept stays.
    for (const [oldest, slot] of this.#slots) {
      if (this.#bytes <= this.#maxBytes) break;
      if (oldest === key) continue;
      if (slot.used) {
        slot.used = false;
        this.#slots.delete(oldest);
        this.#slots.set(oldest, slot);
      } else this.#drop(oldest);
    }
  }

  #drop(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }

  #empty(): void {
    this.#slots.clear();
    this.#bytes = 0;
    this.#generation++;
  }

  #invalidate(key: string | Buffer | null): void {
    // null: Redis dropped every key this connection tracked (FLUSHALL, FLUSHDB, or its tracking table overflowed).
    if (key === null) return this.#empty();
    const name = typeof key === 'string' ? key : key.toString();
    this.#drop(name);
    const reads = this.#reads.get(name);
    if (reads !== undefined) for (const read of reads) read.dirty = true;
  }

  #suspend(reason: string): void {
    if (!this.#serving) return;
    this.#serving = false;
    this.#empty();
    this.suspensions++;
    if (!this.#closed) this.#log.warn('cache local tier suspended: reads go to Redis until tracking answers again', { reason });
  }

  #beat(): void {
    if (this.#pingSentAt !== 0) {
      if (Date.now() - this.#pingSentAt >= this.#silenceMs) this.#suspend('tracking connection silent');
      return;
    }
    if (!this.#connection.isReady) return this.#suspend('tracking connection not ready');
    this.#pingSentAt = Date.now();
    this.#connection.ping().then(
      () => {
        this.#pingSentAt = 0;
        if (this.#serving || this.#closed || !this.#connection.isReady) return;
        this.#serving = true;
        this.#log.info('cache local tier serving');
      },
      () => {
        this.#pingSentAt = 0;
        this.#suspend('tracking connection failed');
      },
    );
  }
}
