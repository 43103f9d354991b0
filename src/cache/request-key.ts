// The request key: which stored response a request may be served. A pure function of the request, so every
// process and every restart derives the same key for the same request.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface KeyParts {
  method: string;
  /** The request path without its query. */
  path: string;
  /**
   * The route's validated, coerced query (ctx.query): the very values the handler reads, declared parameters only,
   * defaults applied, in the schema's property order. So two queries share an entry exactly when the handler sees
   * the same input, and undeclared parameters cannot mint entries.
   */
  query: unknown;
  /** Lower-case header names the response varies on, in declaration order. */
  vary: readonly string[];
  headers: IncomingHttpHeaders;
  /** The caller's identity on `private` routes; undefined on `public` ones. */
  principal: string | undefined;
}

const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** `/a%7eb` and `/a~b` name one resource: escapes of unreserved characters are decoded, the rest upper-cased. */
export function normalisePath(path: string): string {
  if (path.indexOf('%') === -1) return path;
  return path.replace(PERCENT_ESCAPE, (esc) => {
    const ch = String.fromCharCode(parseInt(esc.slice(1), 16));
    return UNRESERVED.test(ch) ? ch : esc.toUpperCase();
  });
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}

// Hashing is most of a hit's key cost and the function is pure: remember recent keys (bounded; cleared when full).
const recent = new Map<string, string>();
const RECENT_MAX = 10_000;

/** HEAD is answered from GET's entry: the same representation without a body. */
export function requestKey(parts: KeyParts): string {
  const method = parts.method === 'HEAD' ? 'GET' : parts.method;
  let material = `${method}\n${normalisePath(parts.path)}\n${JSON.stringify(parts.query)}`;
  for (const name of parts.vary) material += `\n${name}:${headerValue(parts.headers, name)}`;
  // A length prefix keeps a principal from impersonating vary material (and the reverse).
  if (parts.principal !== undefined) material += `\nprincipal:${parts.principal.length}:${parts.principal}`;
  let key = recent.get(material);
  if (key === undefined) {
    key = createHash('sha256').update(material).digest('base64url').slice(0, 32);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(material, key);
  }
  return key;
}
