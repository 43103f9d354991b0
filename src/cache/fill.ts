// The fill protocol of one cached route: a miss runs the handler once per key in this process (the others await
// that flight), and once in the whole fleet while the fill lock is held (claimFill): everyone else waits, polling,
// for the entry to appear. What the handler answers is stored when it may be (storeEntry, unless an invalidation
// moved the epoch meanwhile); a failing handler within staleIfError is answered with the stale entry instead.
import { randomBytes } from 'node:crypto';
import type { Deadline } from '../deadline.ts';
import { HttpError } from '../errors.ts';
import type { Outcome, RequestContext } from '../router/index.ts';
import { compressEntry } from './compression.ts';
import { decodeEntry, encodeEntry, entryLifetimeMs, strongEtag, type StoredResponse } from './entry.ts';
import { unstorableReason } from './http.ts';
import { FAILED, type CacheRuntime } from './runtime.ts';
import type { EntryRef } from './store.ts';

export type FillResult =
  | { kind: 'entry'; entry: StoredResponse; how: 'filled' | 'collapsed' | 'stale-if-error'; stored: boolean }
  | { kind: 'outcome'; outcome: Outcome; detail: string };

/** A fill lock this filler asked for: `locked` when it holds it; `epoch` is what `put` checks. */
interface Claim {
  token: string;
  epoch: string;
  locked: boolean;
}

/** What a route stores, from its options: which answers may become entries, and how long they live. */
export interface EntryPolicy {
  statuses: ReadonlySet<number>;
  /** Declared vary headers (lower-case), and their Vary value (null without any). */
  vary: readonly string[];
  varyHeader: string | null;
  /** Response headers kept with the body. */
  kept: readonly string[];
  tags: readonly string[];
  ttlMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isServerError = (err: unknown): boolean => !(err instanceof HttpError) || err.status >= 500;
const flightKey = (ref: EntryRef): string => `${ref.namespace}\0${ref.id}`;
const newToken = (): string => randomBytes(12).toString('base64url');

export class RouteFills {
  // One fill per key per process; every other request for the key awaits it.
  readonly #flights = new Map<string, Promise<FillResult>>();
  readonly #refreshing = new Set<string>();

  constructor(private readonly rt: CacheRuntime, private readonly policy: EntryPolicy) {}

  /** The fill this process runs for the entry now, if any. */
  flight(ref: EntryRef): Promise<FillResult> | undefined {
    return this.#flights.get(flightKey(ref));
  }

  /**
   * Runs this process's fill for the entry: claims it fleet-wide, or waits (bounded polling) for whoever holds it.
   * A revalidating request (`Cache-Control: no-cache`, honoured) neither joins nor is joined.
   */
  async lead(ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline, fallback: StoredResponse | null, revalidate: boolean): Promise<FillResult> {
    const key = flightKey(ref);
    const mine = this.#claimAndRun(ref, next, deadline, fallback, revalidate);
    if (!revalidate) this.#flights.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.#flights.get(key) === mine) this.#flights.delete(key);
    }
  }

  /** Runs the handler without a claim and stores nothing (`Cache-Control: no-store`). */
  runUnclaimed(ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline, fallback: StoredResponse | null): Promise<FillResult> {
    return this.#run(ref, next, deadline, null, fallback);
  }

  /** Refreshes a stale entry once, after the request that found it was answered; failures keep the stale entry. */
  refreshInBackground(ref: EntryRef, ctx: RequestContext, next: () => Promise<Outcome>): void {
    const key = flightKey(ref);
    if (this.#refreshing.has(key) || this.#flights.has(key)) return;
    this.#refreshing.add(key);
    this.rt.counters.refreshes++;
    // The refresh is part of serving this request: it shares the request's Redis deadline.
    const deadline = ctx.deadline;
    const token = newToken();
    (async () => {
      const claim = await this.#claim(ref, token, deadline);
      // Someone else refreshed already or is refreshing: nothing to do.
      if (claim === FAILED || !claim.locked) return;
      const result = await this.#run(ref, next, deadline, { token, epoch: claim.epoch, locked: true }, null);
      if (result.kind === 'outcome') ctx.log.warn('cache refresh gave an unstorable response; stale entry kept', { route: ctx.route, status: result.outcome.status, detail: result.detail });
    })()
      .catch((err: unknown) => ctx.log.warn('cache refresh failed; stale entry kept', { route: ctx.route, err: err instanceof Error ? err.message : String(err) }))
      .finally(() => this.#refreshing.delete(key));
  }

  #claim(ref: EntryRef, token: string, deadline: Deadline) {
    const { rt } = this;
    return rt.guarded(deadline, () => rt.store.claim(ref, token, rt.lockTtlMs, rt.clock.now(), this.policy.tags));
  }

  async #claimAndRun(ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline, fallback: StoredResponse | null, revalidate: boolean): Promise<FillResult> {
    const token = newToken();
    // A dead lock holder delays others until its lock expires; past twice that, give up waiting and run unlocked
    // (real time: this is how long the request waits).
    const giveUpAt = Date.now() + 2 * this.rt.lockTtlMs;
    let delay = 5;
    for (;;) {
      const claim = await this.#claim(ref, token, deadline);
      if (claim === FAILED) return this.#run(ref, next, deadline, null, fallback);
      if (claim.entry !== null && !revalidate) {
        const entry = decodeEntry(claim.entry);
        if (entry !== null) {
          this.rt.counters.coalesced++;
          return { kind: 'entry', entry, how: 'collapsed', stored: false };
        }
      }
      // A revalidating request stores even without the lock: the client asked for a fresh answer.
      if (claim.locked || revalidate) return this.#run(ref, next, deadline, { token, epoch: claim.epoch, locked: claim.locked }, fallback);
      if (Date.now() + delay > giveUpAt) return this.#run(ref, next, deadline, null, fallback);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  /** Runs the handler under a claim (or none when the store is unreachable), then stores what may be stored. */
  async #run(ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline, claim: Claim | null, fallback: StoredResponse | null): Promise<FillResult> {
    const { rt } = this;
    const release = (): void => {
      if (claim?.locked) void rt.guarded(deadline, () => rt.store.release(ref, claim.token));
    };
    let outcome: Outcome;
    try {
      outcome = await next();
    } catch (err) {
      release();
      if (fallback !== null && isServerError(err)) return this.#staleIfError(fallback);
      throw err;
    }
    if (fallback !== null && outcome.status >= 500) {
      release();
      return this.#staleIfError(fallback);
    }
    const made = this.#toEntry(outcome);
    if (typeof made === 'string') {
      release();
      return { kind: 'outcome', outcome, detail: made };
    }
    // Nothing is stored without a claim: the body goes out as the handler gave it.
    if (claim === null) return { kind: 'entry', entry: made, how: 'filled', stored: false };
    const entry = await compressEntry(made);
    const stored = await rt.guarded(deadline, () => rt.store.put(ref, {
      value: encodeEntry(entry), lifetimeMs: entryLifetimeMs(entry), epoch: claim.epoch, token: claim.token, tags: this.policy.tags, now: entry.storedAt,
    }));
    if (stored === true) rt.counters.stores++;
    else if (stored === false) rt.counters.storesSkipped++;
    return { kind: 'entry', entry, how: 'filled', stored: stored === true };
  }

  #staleIfError(fallback: StoredResponse): FillResult {
    this.rt.counters.staleIfError++;
    return { kind: 'entry', entry: fallback, how: 'stale-if-error', stored: false };
  }

  /** The entry to store for an answer, or why it may not be stored. */
  #toEntry(outcome: Outcome): StoredResponse | string {
    const p = this.policy;
    const reason = unstorableReason(outcome.status, outcome.headers, p.statuses, p.vary);
    if (reason !== null) return reason;
    const raw = outcome.body;
    if (raw !== null && typeof raw !== 'string' && !Buffer.isBuffer(raw)) return 'stream';
    const body = raw === null ? Buffer.alloc(0) : typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (body.length > this.rt.maxBodyBytes) return 'too-large';
    const headers: Record<string, string> = {};
    for (const name of p.kept) if (outcome.headers[name] !== undefined) headers[name] = outcome.headers[name];
    if (p.varyHeader !== null) headers.vary = p.varyHeader;
    const now = this.rt.clock.now();
    const freshUntil = now + p.ttlMs;
    const etag = outcome.headers.etag ?? strongEtag(outcome.status, headers['content-type'] ?? '', body);
    return {
      status: outcome.status, headers, etag, storedAt: now, freshUntil,
      staleUntil: freshUntil + p.staleWhileRevalidateMs, errorUntil: freshUntil + p.staleIfErrorMs,
      body, brotliEtag: null, identity: body, identityLength: body.length,
    };
  }
}
