// What the cache needs from a backend. Redis (shared by every process) and an in-memory LRU (one process)
// implement it; test/support/cache-store-contract.ts holds the one suite both pass.
import type { StoredResponse } from './entry.ts';

/** One cached response: its namespace (invalidation unit, Redis Cluster slot) and its request key. */
export interface EntryRef {
  readonly namespace: string;
  readonly id: string;
}

export interface FillClaim {
  /** A fresh entry another filler stored meanwhile; serve it instead of running the handler. */
  entry: Buffer | null;
  /** This filler holds the fill lock: it runs the handler, then `put`s or `release`s. */
  locked: boolean;
  /** The namespace's invalidation epoch when the claim was made; `put` stores only if it has not moved. */
  epoch: string;
}

export interface PutParams {
  value: Buffer;
  lifetimeMs: number;
  epoch: string;
  token: string;
  tags: readonly string[];
  now: number;
}

export interface InvalidateSpec {
  /** Entries stored with any of these tags (in `namespace` only, when given). */
  tags?: readonly string[];
  /** Without tags: every entry of the namespace. */
  namespace?: string;
}

/** What the local tier in front of a store holds, for /metrics. */
export interface LocalTierState {
  /** False while it is emptied and bypassed (tracking connection down or silent). */
  serving: boolean;
  entries: number;
  bytes: number;
  /** Times it suspended itself. */
  suspensions: number;
}

export interface CacheStore {
  readonly kind: 'redis' | 'memory';
  /** The stored entry, fresh or stale, or null; `now` is the cache's clock (a store that expires entries itself may ignore it). */
  get(ref: EntryRef, now: number): Promise<Buffer | null>;
  /**
   * Returns a fresh entry, or tries to take the fill lock (token, TTL). Registers the namespace under `tags`
   * first, so an invalidation by tag that runs while the handler reads sees this namespace and moves its epoch.
   */
  claim(ref: EntryRef, token: string, lockTtlMs: number, now: number, tags: readonly string[]): Promise<FillClaim>;
  /** Stores unless an invalidation moved the epoch since the claim; releases the lock. True when stored. */
  put(ref: EntryRef, params: PutParams): Promise<boolean>;
  /** Gives the fill lock up without storing (the response was not cacheable, or the handler failed). */
  release(ref: EntryRef, token: string): Promise<void>;
  /** Deletes the matching entries; fills running meanwhile do not store. Resolves to the number deleted. */
  invalidate(spec: InvalidateSpec): Promise<number>;
  /** Resolves when the backend answers: the circuit breaker's probe. */
  ping(): Promise<void>;
  /**
   * The entry this process holds and knows to be current, without a round trip (the Redis store's local tier,
   * src/cache/local-tier.ts); null when it holds none, and always for a store without such a tier.
   */
  peek(ref: EntryRef): StoredResponse | null;
  /** The local tier's state; null for a store without one. */
  localState(): LocalTierState | null;
  /** Releases what the store opened itself (the local tier's connection); the client it was given stays open. */
  close(): Promise<void>;
}

/** The freshness deadline written first in every entry (see entry.ts), read without decoding the rest. */
export function freshUntilOf(raw: Buffer): number {
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x0a) return n;
    if (c < 0x30 || c > 0x39) return 0;
    n = n * 10 + (c - 0x30);
  }
  return 0;
}
