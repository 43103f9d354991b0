// Baseline: plain node:http, hand-written routing and JSON.stringify, no validation beyond the integer check.
// bench/servers/raw.ts serves it over a socket; bench/hot-path.ts and bench/instructions.ts call it in process.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const hello = JSON.stringify({ hello: 'world' });

/** The body of a GET of `url`, or null: not found. */
function answer(url: string): string | null {
  if (url === '/hello') return hello;
  if (url.startsWith('/items/')) {
    const raw = url.slice(7);
    if (/^\d+$/.test(raw)) {
      const id = Number(raw);
      return JSON.stringify({ id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 });
    }
  }
  return null;
}

export function rawHandler(req: IncomingMessage, res: ServerResponse): void {
  const body = answer(req.url ?? '/');
  if (body === null) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// What src/http/handle.ts adds to every answer: a per-process tag with a counter, nosniff and a restrictive CSP.
const idPrefix = randomBytes(4).toString('hex') + '-';
let counter = 0;
const SKIFF_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The same answers with the three headers skiff sends on every response, in skiff's order: the like-for-like
 * baseline (Node validates every header name and value it is given, so each header has a price of its own).
 */
export function rawHandlerWithSkiffHeaders(req: IncomingMessage, res: ServerResponse): void {
  const body = answer(req.url ?? '/');
  if (body === null) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, [
    'x-request-id', idPrefix + (++counter).toString(36), 'x-content-type-options', 'nosniff', 'content-security-policy', SKIFF_CSP,
    'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}
