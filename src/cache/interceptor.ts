// The per-route cache: serves hits from the local tier or the store as stored bytes, fills misses once (fill.ts: in-process
// coalescing, then a fill lock shared by every process), serves stale while one refresh runs or when the handler
// fails, and answers If-None-Match with 304 (render.ts). Store trouble is a bypass, never a failed or a hung request.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dependency, Interceptor, Outcome, RequestContext } from '../router/index.ts';
import { decodeEntry, type StoredResponse } from './entry.ts';
import { RouteFills, type EntryPolicy } from './fill.ts';
import { requestDirectives } from './http.ts';
import { documentCaching } from './openapi.ts';
import { CacheResponses, ttlParam } from './render.ts';
import { requestKey } from './request-key.ts';
import { FAILED, type CacheRuntime } from './runtime.ts';
import type { EntryRef } from './store.ts';

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
  /**
   * The caller's identity on `private` routes. Default: `ctx.principal`, which the core sets from the route's
   * authenticating dependency. Naming that dependency (`principal: apiKey`) says which one keys the entries and
   * is checked here: it must declare `principal()`. Or a function of the request.
   */
  principal?: Dependency<unknown> | ((ctx: RequestContext) => string | undefined);
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

const callerPrincipal = (ctx: RequestContext): string | undefined => ctx.principal;

function principalOf(option: CacheRouteOptions['principal']): (ctx: RequestContext) => string | undefined {
  if (typeof option === 'function') return option;
  if (option !== undefined && typeof option.principal !== 'function') {
    throw new TypeError(`cache.route: the dependency "${option.name}" names no principal (it has no principal())`);
  }
  // The core set ctx.principal from the dependency when it resolved, before any interceptor runs.
  return callerPrincipal;
}

const shareable = (body: Outcome['body']): boolean => body === null || typeof body === 'string' || Buffer.isBuffer(body);

function entryPolicy(options: CacheRouteOptions): EntryPolicy {
  const vary = (options.vary ?? []).map((h) => h.toLowerCase());
  return {
    statuses: new Set(options.statuses ?? [200]),
    vary,
    varyHeader: vary.length > 0 ? vary.join(', ') : null,
    kept: ['content-type', 'content-language', ...(options.headers ?? []).map((h) => h.toLowerCase())],
    tags: options.tags ?? [],
    ttlMs: options.ttl * 1000,
    staleWhileRevalidateMs: (options.staleWhileRevalidate ?? 0) * 1000,
    staleIfErrorMs: (options.staleIfError ?? 0) * 1000,
  };
}

export function cacheRoute(rt: CacheRuntime, options: CacheRouteOptions): CacheInterceptor {
  if (!(options.ttl > 0)) throw new TypeError('cache.route: ttl must be a positive number of seconds');
  const scope = options.scope;
  const credentialHeaders = (options.credentialHeaders ?? ['authorization', 'cookie']).map((h) => h.toLowerCase());
  const carriesCredentials = (headers: IncomingHttpHeaders): boolean => {
    for (let i = 0; i < credentialHeaders.length; i++) if (headers[credentialHeaders[i]] !== undefined) return true;
    return false;
  };
  const identify = principalOf(options.principal);
  const policy = entryPolicy(options);
  const { store, counters } = rt;
  const responses = new CacheResponses(rt.cacheName, scope, counters);
  const fills = new RouteFills(rt, policy);

  /**
   * Answers from the entry found (fresh, or stale within staleWhileRevalidate), else through a fill. `held`: the
   * entry came from the local tier.
   */
  function serve(ctx: RequestContext, next: () => Promise<Outcome>, ref: EntryRef, entry: StoredResponse | null, held: boolean): Outcome | Promise<Outcome> {
    const now = rt.clock.now();
    const directives = requestDirectives(ctx.req.headers);
    const revalidate = directives.noCache && rt.honorNoCache;
    if (entry !== null && !revalidate) {
      if (now < entry.freshUntil) {
        counters.hits++;
        if (held) counters.localHits++;
        return responses.entry(entry, ctx, 'HIT', `hit; ${ttlParam(entry, now)}`, now);
      }
      if (now < entry.staleUntil) {
        counters.stale++;
        fills.refreshInBackground(ref, ctx, next);
        return responses.entry(entry, ctx, 'STALE', `hit; ${ttlParam(entry, now)}; detail=stale-while-revalidate`, now);
      }
    }
    const fallback = entry !== null && now < entry.errorUntil ? entry : null;
    if (directives.noStore) return fillUnclaimed(ctx, next, ref, fallback, entry !== null);
    return fill(ctx, next, ref, fallback, revalidate, entry !== null);
  }

  /** A miss: joins this process's fill for the entry, or leads one. `replacing`: a stale entry was found. */
  async function fill(ctx: RequestContext, next: () => Promise<Outcome>, ref: EntryRef, fallback: StoredResponse | null, revalidate: boolean, replacing: boolean): Promise<Outcome> {
    const flight = revalidate ? undefined : fills.flight(ref);
    if (flight !== undefined) {
      counters.coalesced++;
      const result = await flight;
      // A stream cannot be shared: this request runs the handler itself.
      if (result.kind === 'outcome' && !shareable(result.outcome.body)) return responses.labelled(await next(), 'MISS', 'fwd=uri-miss');
      return responses.fill(result, ctx, false, replacing, rt.clock.now());
    }
    counters.misses++;
    const result = await fills.lead(ref, next, ctx.deadline, fallback, revalidate);
    return responses.fill(result, ctx, true, replacing, rt.clock.now());
  }

  async function fillUnclaimed(ctx: RequestContext, next: () => Promise<Outcome>, ref: EntryRef, fallback: StoredResponse | null, replacing: boolean): Promise<Outcome> {
    counters.misses++;
    const result = await fills.runUnclaimed(ref, next, ctx.deadline, fallback);
    return responses.fill(result, ctx, true, replacing, rt.clock.now());
  }

  return {
    name: 'cache',

    async around(ctx, next) {
      const method = ctx.method;
      if ((method !== 'GET' && method !== 'HEAD') || !rt.enabled) return next();
      const headers = ctx.req.headers;
      if (scope === 'public' && carriesCredentials(headers)) return responses.bypass(await next(), 'credentials');
      const principal = scope === 'private' ? identify(ctx) : undefined;
      if (scope === 'private' && principal === undefined) return responses.bypass(await next(), 'no-principal');
      const ref: EntryRef = {
        namespace: options.namespace ?? ctx.route,
        id: requestKey({ method, path: ctx.path, query: ctx.query, vary: policy.vary, headers, principal }),
      };
      if (!rt.invalidationsPending()) {
        const held = store.peek(ref);
        if (held !== null) return serve(ctx, next, ref, held, true);
      }
      const deadline = ctx.deadline;
      if (!(await rt.settleInvalidations(deadline))) return responses.bypass(await next(), 'store-unavailable');
      const raw = await rt.guarded(deadline, () => store.get(ref, rt.clock.now()));
      if (raw === FAILED) return responses.bypass(await next(), 'store-unavailable');
      return serve(ctx, next, ref, raw === null ? null : decodeEntry(raw), false);
    },

    openapi(operation) {
      documentCaching(operation, scope);
    },
  };
}
