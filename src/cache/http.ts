// HTTP caching semantics the interceptor applies: request directives, If-None-Match, and which responses may
// be stored (the rules of Hono's cache middleware: no private/no-store/no-cache, no Set-Cookie, no Vary the
// route did not declare).
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestDirectives {
  /** `Cache-Control: no-store`: the response to this request is not stored. */
  noStore: boolean;
  /** `Cache-Control: no-cache` (or `max-age=0`, `Pragma: no-cache`): the client asks for revalidation. */
  noCache: boolean;
}

const NONE: RequestDirectives = Object.freeze({ noStore: false, noCache: false });

export function requestDirectives(headers: IncomingHttpHeaders): RequestDirectives {
  const cc = headers['cache-control'];
  const pragma = headers.pragma;
  if (cc === undefined && pragma === undefined) return NONE;
  const lower = (cc ?? '').toLowerCase();
  return {
    noStore: /(?:^|,)\s*no-store\s*(?:,|$)/.test(lower),
    noCache: /(?:^|,)\s*(?:no-cache|max-age\s*=\s*0)\s*(?:,|$)/.test(lower) || (cc === undefined && /no-cache/i.test(pragma ?? '')),
  };
}

const ENTITY_TAG = /(?:W\/)?"[^"]*"|\*/g;

/** RFC 9110 §13.1.2: weak comparison over a list of entity tags; `*` matches any stored representation. */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const candidate of header.match(ENTITY_TAG) ?? []) {
    if (candidate === '*') return true;
    if ((candidate.startsWith('W/') ? candidate.slice(2) : candidate) === opaque) return true;
  }
  return false;
}

/** Why a response must not be stored, or null when it may be. */
export function unstorableReason(
  status: number,
  headers: Record<string, string>,
  statuses: ReadonlySet<number>,
  vary: readonly string[],
): string | null {
  if (!statuses.has(status)) return 'status';
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  const cc = headers['cache-control'];
  if (cc !== undefined && /(?:^|,)\s*(?:private|no-store|no-cache)\b/i.test(cc)) return 'cache-control';
  const responseVary = headers.vary;
  if (responseVary !== undefined) {
    for (const name of responseVary.split(',')) {
      const n = name.trim().toLowerCase();
      if (n !== '' && !vary.includes(n)) return 'vary';
    }
  }
  return null;
}

/** RFC 9211 `Cache-Status` value for this cache. */
export function cacheStatus(cacheName: string, params: string): string {
  return `${cacheName}; ${params}`;
}
