// The per-route cache: serves hits from the store as stored bytes, fills misses once (in-process coalescing,
// then a fill lock shared by every process), serves stale while one refresh runs or when the handler fails,
// and answers If-None-Match with 304. Store trouble is a bypass, never a failed or a hung request.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Deadline } from '../deadline.ts';
import { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Interceptor, Outcome, RequestContext } from '../router/index.ts';
import type { CacheCounters } from './breaker.ts';
import { decodeEntry, encodeEntry, entryLifetimeMs, strongEtag, type StoredResponse } from './entry.ts';
import { cacheStatus, ifNoneMatchMatches, requestDirectives, unstorableReason } from './http.ts';
import { requestKey } from './request-key.ts';
import type { CacheStore, EntryRef, InvalidateSpec } from './store.ts';

export interface CacheRouteOptions {
  /** Seconds a stored response stays fresh. */
  ttl: number;
  /** Invalidation unit (and Redis Cluster slot); defaults to the route template, e.g. `/v1/items/{id}`. */
  namespace?: string;
  /** Labels for `cache.invalidate({ tags })`. */
  tags?: string[];
  /** Request headers whose values select different stored responses, e.g. `accept-language`. */
  vary?: string[];
  /** `public`: one response for everybody; requests with a credential header (`credentialHeaders`) bypass the
   *  cache. `private`: one response per principal; requests without one bypass the cache. */
  scope: 'public' | 'private';
  /** Request headers that carry credentials: on a `public` route a request with any of them bypasses the cache
   *  (default `authorization`, `cookie`; add e.g. `x-api-key` when the app authenticates with it). */
  credentialHeaders?: string[];
  /** The caller's identity on `private` routes; default `ctx.principal` (what the route's dependency names). */
  principal?: (ctx: RequestContext) => string | undefined;
  /** Seconds after freshness during which a stale response is served at once while one refresh runs. */
  staleWhileRevalidate?: number;
  /** Seconds after freshness during which a stale response replaces a failed (5xx or thrown) handler answer. */
  staleIfError?: number;
  /** Statuses that may be stored (default: 200 only; errors never). */
  statuses?: number[];
  /** Response headers stored with the body besides Content-Type (lower-case). */
  headers?: string[];
}

export interface CacheInterceptor extends Interceptor {
  openapi(operation: Record<string, unknown>): void;
}

/** What the interceptors of one cache share: the store behind its guard, counters, in-flight fills. */
export interface CacheRuntime {
  readonly store: CacheStore;
  readonly counters: CacheCounters;
  readonly cacheName: string;
  readonly maxBodyBytes: number;
  readonly lockTtlMs: number;
  readonly honorNoCache: boolean;
  readonly enabled: boolean;
  /** Runs a store call under the circuit breaker and the request's Redis deadline; FAILED instead of throwing
   *  or hanging (and at once when the circuit is open or the deadline spent). */
  guarded<T>(deadline: Deadline, call: () => Promise<T>): Promise<T | typeof FAILED>;
  /** Replays invalidations that failed while the store was unreachable; false while some still fail. */
  settleInvalidations(deadline: Deadline): Promise<boolean>;
  readonly log: Logger;
}

export const FAILED = Symbol('store call failed');

type FillResult =
  | { kind: 'entry'; entry: StoredResponse; how: 'filled' | 'collapsed' | 'stale-if-error'; stored: boolean }
  | { kind: 'outcome'; outcome: Outcome; detail: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number): number => Math.floor(ms / 1000);
/** Whole seconds of freshness left, so that Age + max-age = ttl (negative once stale: Cache-Status ttl). */
const freshSecondsLeft = (entry: StoredResponse, now: number): number =>
  seconds(entry.freshUntil - entry.storedAt) - seconds(Math.max(0, now - entry.storedAt));
/** Object spread of header maps costs microseconds on Node 20 (a slow V8 path); a for-in copy does not. */
function copyInto(target: Record<string, string>, source: Record<string, string>): Record<string, string> {
  for (const name in source) target[name] = source[name];
  return target;
}
const isServerError = (err: unknown): boolean => !(err instanceof HttpError) || err.status >= 500;
const shareable = (body: Outcome['body']): boolean => body === null || typeof body === 'string' || Buffer.isBuffer(body);

export function cacheRoute(rt: CacheRuntime, options: CacheRouteOptions): CacheInterceptor {
  if (!(options.ttl > 0)) throw new TypeError('cache.route: ttl must be a positive number of seconds');
  const scope = options.scope;
  const credentialHeaders = (options.credentialHeaders ?? ['authorization', 'cookie']).map((h) => h.toLowerCase());
  const carriesCredentials = (headers: IncomingHttpHeaders): boolean => {
    for (let i = 0; i < credentialHeaders.length; i++) if (headers[credentialHeaders[i]] !== undefined) return true;
    return false;
  };
  const principalOf = options.principal ?? ((ctx: RequestContext) => ctx.principal);
  const tags = options.tags ?? [];
  const vary = (options.vary ?? []).map((h) => h.toLowerCase());
  const varyHeader = vary.length > 0 ? vary.join(', ') : null;
  const statuses = new Set(options.statuses ?? [200]);
  const kept = ['content-type', 'content-language', ...(options.headers ?? []).map((h) => h.toLowerCase())];
  const ttlMs = options.ttl * 1000;
  const swrMs = (options.staleWhileRevalidate ?? 0) * 1000;
  const sieMs = (options.staleIfError ?? 0) * 1000;
  const { store, counters, cacheName } = rt;
  const maxAgePrefix = `${scope}, max-age=`;
  // One fill per key per process; every other request for the key awaits it.
  const flights = new Map<string, Promise<FillResult>>();
  const refreshing = new Set<string>();

  function withStatus(outcome: Outcome, xCache: string, status: string, extra?: Record<string, string>): Outcome {
    const headers = copyInto({}, outcome.headers);
    if (extra !== undefined) copyInto(headers, extra);
    headers['x-cache'] = xCache;
    headers['cache-status'] = cacheStatus(cacheName, status);
    return { status: outcome.status, headers, body: outcome.body };
  }

  function bypass(outcome: Outcome, detail: string): Outcome {
    counters.bypasses++;
    // A response computed with the caller's credentials must not land in a shared cache downstream either.
    const extra = detail === 'credentials' && outcome.headers['cache-control'] === undefined ? { 'cache-control': 'private' } : undefined;
    return withStatus(outcome, 'BYPASS', `fwd=bypass; detail=${detail}`, extra);
  }

  /** The response for a stored entry: its bytes as stored, freshness headers as of now, or 304. */
  function render(entry: StoredResponse, ctx: RequestContext, xCache: string, status: string, now: number): Outcome {
    const age = Math.max(0, seconds(now - entry.storedAt));
    const headers: Record<string, string> = copyInto({
      etag: entry.etag,
      'cache-control': maxAgePrefix + Math.max(0, freshSecondsLeft(entry, now)),
      age: String(age),
      'x-cache': xCache,
      'cache-status': cacheStatus(cacheName, status),
    }, entry.headers);
    const inm = ctx.req.headers['if-none-match'];
    if (inm !== undefined && ifNoneMatchMatches(inm, entry.etag)) {
      counters.notModified++;
      delete headers['content-type'];
      delete headers['content-language'];
      return { status: 304, headers, body: null };
    }
    return { status: entry.status, headers, body: entry.body };
  }

  const ttlParam = (entry: StoredResponse, now: number): string => `ttl=${freshSecondsLeft(entry, now)}`;

  function renderFill(result: FillResult, ctx: RequestContext, leader: boolean, replacing: boolean): Outcome {
    const now = Date.now();
    if (result.kind === 'outcome') return withStatus(result.outcome, 'MISS', `fwd=${replacing ? 'stale' : 'uri-miss'}; detail=${result.detail}`);
    const { entry, how } = result;
    if (how === 'stale-if-error') return render(entry, ctx, 'STALE', `fwd=uri-miss; ${ttlParam(entry, now)}; detail=stale-if-error`, now);
    if (how === 'collapsed' || !leader) return render(entry, ctx, 'HIT', `fwd=uri-miss; collapsed; ${ttlParam(entry, now)}`, now);
    return render(entry, ctx, 'MISS', `fwd=${replacing ? 'stale' : 'uri-miss'}${result.stored ? '; stored' : ''}; ${ttlParam(entry, now)}`, now);
  }

  function toEntry(outcome: Outcome): StoredResponse | string {
    const reason = unstorableReason(outcome.status, outcome.headers, statuses, vary);
    if (reason !== null) return reason;
    const raw = outcome.body;
    if (raw !== null && typeof raw !== 'string' && !Buffer.isBuffer(raw)) return 'stream';
    const body = raw === null ? Buffer.alloc(0) : typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (body.length > rt.maxBodyBytes) return 'too-large';
    const headers: Record<string, string> = {};
    for (const name of kept) if (outcome.headers[name] !== undefined) headers[name] = outcome.headers[name];
    if (varyHeader !== null) headers.vary = varyHeader;
    const now = Date.now();
    const freshUntil = now + ttlMs;
    const etag = outcome.headers.etag ?? strongEtag(outcome.status, headers['content-type'] ?? '', body);
    return { status: outcome.status, headers, etag, storedAt: now, freshUntil, staleUntil: freshUntil + swrMs, errorUntil: freshUntil + sieMs, body };
  }

  /** Runs the handler under a claim (or none when the store is unreachable), then stores what may be stored. */
  async function run(
    ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline,
    claim: { token: string; epoch: string; locked: boolean } | null, fallback: StoredResponse | null,
  ): Promise<FillResult> {
    const release = (): void => {
      if (claim?.locked) void rt.guarded(deadline, () => store.release(ref, claim.token));
    };
    let outcome: Outcome;
    try {
      outcome = await next();
    } catch (err) {
      release();
      if (fallback !== null && isServerError(err)) {
        counters.staleIfError++;
        return { kind: 'entry', entry: fallback, how: 'stale-if-error', stored: false };
      }
      throw err;
    }
    if (fallback !== null && outcome.status >= 500) {
      release();
      counters.staleIfError++;
      return { kind: 'entry', entry: fallback, how: 'stale-if-error', stored: false };
    }
    const entry = toEntry(outcome);
    if (typeof entry === 'string' || claim === null) {
      release();
      return typeof entry === 'string' ? { kind: 'outcome', outcome, detail: entry } : { kind: 'entry', entry, how: 'filled', stored: false };
    }
    const stored = await rt.guarded(deadline, () => store.put(ref, {
      value: encodeEntry(entry), lifetimeMs: entryLifetimeMs(entry), epoch: claim.epoch, token: claim.token, tags, now: entry.storedAt,
    }));
    if (stored === true) counters.stores++;
    else if (stored === false) counters.storesSkipped++;
    return { kind: 'entry', entry, how: 'filled', stored: stored === true };
  }

  /** The process's one fill for a key: claim it fleet-wide, or wait (bounded polling) for whoever holds it. */
  async function lead(ref: EntryRef, next: () => Promise<Outcome>, deadline: Deadline, fallback: StoredResponse | null, revalidate: boolean): Promise<FillResult> {
    const token = randomBytes(12).toString('base64url');
    // A dead lock holder delays others until its lock expires; past twice that, give up waiting and run unlocked.
    const giveUpAt = Date.now() + 2 * rt.lockTtlMs;
    let delay = 5;
    for (;;) {
      const claim = await rt.guarded(deadline, () => store.claim(ref, token, rt.lockTtlMs, Date.now(), tags));
      if (claim === FAILED) return run(ref, next, deadline, null, fallback);
      if (claim.entry !== null && !revalidate) {
        const entry = decodeEntry(claim.entry);
        if (entry !== null) {
          counters.coalesced++;
          return { kind: 'entry', entry, how: 'collapsed', stored: false };
        }
      }
      // A revalidating request stores even without the lock: the client asked for a fresh answer.
      if (claim.locked || revalidate) return run(ref, next, deadline, { token, epoch: claim.epoch, locked: claim.locked }, fallback);
      if (Date.now() + delay > giveUpAt) return run(ref, next, deadline, null, fallback);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  function refreshInBackground(ref: EntryRef, key: string, ctx: RequestContext, next: () => Promise<Outcome>): void {
    if (refreshing.has(key) || flights.has(key)) return;
    refreshing.add(key);
    counters.refreshes++;
    // The refresh is part of serving this request: it shares the request's Redis deadline.
    const deadline = ctx.deadline;
    const token = randomBytes(12).toString('base64url');
    (async () => {
      const claim = await rt.guarded(deadline, () => store.claim(ref, token, rt.lockTtlMs, Date.now(), tags));
      // Someone else refreshed already or is refreshing: nothing to do.
      if (claim === FAILED || !claim.locked) return;
      const result = await run(ref, next, deadline, { token, epoch: claim.epoch, locked: true }, null);
      if (result.kind === 'outcome') ctx.log.warn('cache refresh gave an unstorable response; stale entry kept', { route: ctx.route, status: result.outcome.status, detail: result.detail });
    })()
      .catch((err: unknown) => ctx.log.warn('cache refresh failed; stale entry kept', { route: ctx.route, err: err instanceof Error ? err.message : String(err) }))
      .finally(() => refreshing.delete(key));
  }

  async function fill(ctx: RequestContext, next: () => Promise<Outcome>, ref: EntryRef, deadline: Deadline, fallback: StoredResponse | null, revalidate: boolean, replacing: boolean): Promise<Outcome> {
    const key = `${ref.namespace}\0${ref.id}`;
    const flight = flights.get(key);
    if (flight !== undefined && !revalidate) {
      counters.coalesced++;
      const result = await flight;
      if (result.kind === 'outcome' && !shareable(result.outcome.body)) return withStatus(await next(), 'MISS', 'fwd=uri-miss');
      return renderFill(result, ctx, false, replacing);
    }
    counters.misses++;
    const mine = lead(ref, next, deadline, fallback, revalidate);
    if (!revalidate) flights.set(key, mine);
    try {
      return renderFill(await mine, ctx, true, replacing);
    } finally {
      if (flights.get(key) === mine) flights.delete(key);
    }
  }

  return {
    name: 'cache',

    async around(ctx, next) {
      const method = ctx.method;
      if ((method !== 'GET' && method !== 'HEAD') || !rt.enabled) return next();
      const headers = ctx.req.headers;
      if (scope === 'public' && carriesCredentials(headers)) return bypass(await next(), 'credentials');
      const principal = scope === 'private' ? principalOf(ctx) : undefined;
      if (scope === 'private' && principal === undefined) return bypass(await next(), 'no-principal');
      const ref: EntryRef = {
        namespace: options.namespace ?? ctx.route,
        id: requestKey({ method, path: ctx.path, query: ctx.query, vary, headers, principal }),
      };
      const deadline = ctx.deadline;
      if (!(await rt.settleInvalidations(deadline))) return bypass(await next(), 'store-unavailable');
      const raw = await rt.guarded(deadline, () => store.get(ref));
      if (raw === FAILED) return bypass(await next(), 'store-unavailable');
      const now = Date.now();
      const entry = raw === null ? null : decodeEntry(raw);
      const directives = requestDirectives(headers);
      const revalidate = directives.noCache && rt.honorNoCache;
      if (entry !== null && !revalidate) {
        if (now < entry.freshUntil) {
          counters.hits++;
          return render(entry, ctx, 'HIT', `hit; ${ttlParam(entry, now)}`, now);
        }
        if (now < entry.staleUntil) {
          counters.stale++;
          refreshInBackground(ref, `${ref.namespace}\0${ref.id}`, ctx, next);
          return render(entry, ctx, 'STALE', `hit; ${ttlParam(entry, now)}; detail=stale-while-revalidate`, now);
        }
      }
      const fallback = entry !== null && now < entry.errorUntil ? entry : null;
      if (directives.noStore) {
        counters.misses++;
        return renderFill(await run(ref, next, deadline, null, fallback), ctx, true, entry !== null);
      }
      return fill(ctx, next, ref, deadline, fallback, revalidate, entry !== null);
    },

    openapi(operation) {
      documentCaching(operation, scope);
    },
  };
}

const headerDoc = (description: string) => ({ description, schema: { type: 'string' } });

/** Adds what a cached operation sends and accepts: If-None-Match, 304, ETag / Cache-Control / Age / Cache-Status / X-Cache. */
export function documentCaching(operation: Record<string, unknown>, scope: 'public' | 'private'): void {
  const parameters = (operation.parameters ??= []) as Record<string, unknown>[];
  if (!parameters.some((p) => p.in === 'header' && String(p.name).toLowerCase() === 'if-none-match')) {
    parameters.push({
      name: 'If-None-Match', in: 'header', required: false,
      description: 'Entity tags of representations the client holds (weak comparison, a list, or `*`); a match answers 304.',
      schema: { type: 'string' },
    });
  }
  const cacheHeaders = {
    ETag: headerDoc('Strong entity tag of the representation, equal in every process.'),
    'Cache-Control': headerDoc(`\`${scope}, max-age=<seconds of freshness left>\`.`),
    Age: headerDoc('Seconds since the response was stored (cached responses only).'),
    'Cache-Status': headerDoc('RFC 9211 cache status, e.g. `skiff; hit; ttl=42`.'),
    'X-Cache': headerDoc('`HIT`, `MISS`, `STALE` or `BYPASS`.'),
  };
  const responses = (operation.responses ??= {}) as Record<string, Record<string, unknown>>;
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2\d\d$/.test(status) || typeof response !== 'object' || response === null) continue;
    response.headers = { ...(response.headers as Record<string, unknown> | undefined), ...cacheHeaders };
  }
  responses['304'] ??= {
    description: 'Not Modified: the representation matches `If-None-Match`; no body.',
    headers: { ETag: cacheHeaders.ETag, 'Cache-Control': cacheHeaders['Cache-Control'], 'Cache-Status': cacheHeaders['Cache-Status'] },
  };
}

export type { InvalidateSpec };
