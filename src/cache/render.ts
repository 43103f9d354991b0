// What a cached route answers: a stored entry as stored bytes with freshness headers as of now (or 304), the
// outcome of a fill, or the handler's own answer labelled with the cache's verdict (X-Cache, Cache-Status).
import type { Outcome, RequestContext } from '../router/index.ts';
import type { CacheCounters } from './counters.ts';
import type { StoredResponse } from './entry.ts';
import type { FillResult } from './fill.ts';
import { acceptsBrotli, identityBody } from './compression.ts';
import { cacheStatus, ifNoneMatchMatches } from './http.ts';

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** Whole seconds of freshness left, so that Age + max-age = ttl (negative once stale: Cache-Status ttl). */
const freshSecondsLeft = (entry: StoredResponse, now: number): number =>
  seconds(entry.freshUntil - entry.storedAt) - seconds(Math.max(0, now - entry.storedAt));

/** The Cache-Status `ttl` parameter of an entry as of `now`. */
export const ttlParam = (entry: StoredResponse, now: number): string => `ttl=${freshSecondsLeft(entry, now)}`;

/** Object spread of header maps costs microseconds on Node 20 (a slow V8 path); a for-in copy does not. */
function copyInto(target: Record<string, string>, source: Record<string, string>): Record<string, string> {
  for (const name in source) target[name] = source[name];
  return target;
}

/** The responses of one cached route. */
export class CacheResponses {
  readonly #maxAgePrefix: string;

  constructor(private readonly cacheName: string, scope: 'public' | 'private', private readonly counters: CacheCounters) {
    this.#maxAgePrefix = `${scope}, max-age=`;
  }

  /** The handler's answer with the cache's verdict added. */
  labelled(outcome: Outcome, xCache: string, status: string, extra?: Record<string, string>): Outcome {
    const headers = copyInto({}, outcome.headers);
    if (extra !== undefined) copyInto(headers, extra);
    headers['x-cache'] = xCache;
    headers['cache-status'] = cacheStatus(this.cacheName, status);
    return { status: outcome.status, headers, body: outcome.body };
  }

  /** The handler's answer to a request the cache did not serve (`detail` says why). */
  bypass(outcome: Outcome, detail: string): Outcome {
    this.counters.bypasses++;
    // A response computed with the caller's credentials must not land in a shared cache downstream either.
    const extra = detail === 'credentials' && outcome.headers['cache-control'] === undefined ? { 'cache-control': 'private' } : undefined;
    return this.labelled(outcome, 'BYPASS', `fwd=bypass; detail=${detail}`, extra);
  }

  /**
   * A stored entry: its bytes as stored (brotli to a client that accepts it, else decompressed), freshness
   * headers as of `now`, or 304 when If-None-Match matches the ETag of the encoding chosen.
   */
  entry(entry: StoredResponse, ctx: RequestContext, xCache: string, status: string, now: number): Outcome {
    const age = Math.max(0, seconds(now - entry.storedAt));
    const brotli = entry.brotliEtag !== null && acceptsBrotli(ctx.req.headers['accept-encoding']);
    const etag = brotli ? entry.brotliEtag! : entry.etag;
    const headers: Record<string, string> = copyInto({
      etag,
      'cache-control': this.#maxAgePrefix + Math.max(0, freshSecondsLeft(entry, now)),
      age: String(age),
      'x-cache': xCache,
      'cache-status': cacheStatus(this.cacheName, status),
    }, entry.headers);
    const inm = ctx.req.headers['if-none-match'];
    if (inm !== undefined && ifNoneMatchMatches(inm, etag)) {
      this.counters.notModified++;
      delete headers['content-type'];
      delete headers['content-language'];
      return { status: 304, headers, body: null };
    }
    if (!brotli) return { status: entry.status, headers, body: identityBody(entry) };
    headers['content-encoding'] = 'br';
    return { status: entry.status, headers, body: entry.body };
  }

  /**
   * The answer after a fill: `leader` ran it (else it joined another request's), `replacing` a stale entry.
   * An unstorable answer is the handler's own, labelled MISS.
   */
  fill(result: FillResult, ctx: RequestContext, leader: boolean, replacing: boolean, now: number): Outcome {
    if (result.kind === 'outcome') return this.labelled(result.outcome, 'MISS', `fwd=${replacing ? 'stale' : 'uri-miss'}; detail=${result.detail}`);
    const { entry, how } = result;
    if (how === 'stale-if-error') return this.entry(entry, ctx, 'STALE', `fwd=uri-miss; ${ttlParam(entry, now)}; detail=stale-if-error`, now);
    if (how === 'collapsed' || !leader) return this.entry(entry, ctx, 'HIT', `fwd=uri-miss; collapsed; ${ttlParam(entry, now)}`, now);
    return this.entry(entry, ctx, 'MISS', `fwd=${replacing ? 'stale' : 'uri-miss'}${result.stored ? '; stored' : ''}; ${ttlParam(entry, now)}`, now);
  }
}
