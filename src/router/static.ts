// Files held in memory and served with a strong ETag (304 on a match) and, when the client takes it, gzip —
// compressed once, off the event loop, the first time someone asks. The docs pages and the queue dashboard
// serve their pages and assets this way.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import type { Router } from './router.ts';

const gzipAsync = promisify(gzip);
const MIN_GZIP_BYTES = 1024;

export interface StaticAsset {
  readonly body: Buffer;
  readonly etag: string;
  readonly headers: Record<string, string>;
  gzipped: Promise<Buffer> | null;
}

export interface StaticResponse {
  status: 200 | 304;
  body: Buffer | null;
  headers: Record<string, string>;
}

export function staticAsset(body: Buffer | string, contentType: string, headers: Record<string, string> = {}): StaticAsset {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
  return { body: bytes, etag, headers: { 'content-type': contentType, 'cache-control': 'no-cache', ...headers }, gzipped: null };
}

/**
 * Adds `GET path` (and so HEAD) to the router, answering `load()`'s bytes. They are loaded on the first request:
 * a process that never serves the file never holds it. The route is left out of the OpenAPI document.
 * With a charset in `contentType` the router takes the bytes for "not JSON to serialize" and sends them as they are.
 */
export function staticRoute(router: Router, path: string, contentType: string, load: () => Buffer | string, headers: Record<string, string> = {}): void {
  let asset: StaticAsset | null = null;
  const spec = { includeInSchema: false, response: { 200: { contentType }, 304: { description: 'Not Modified' } } };
  router.get(path, spec, async (ctx) => {
    const answer = await serveStatic((asset ??= staticAsset(load(), contentType, headers)), ctx.req.headers);
    return ctx.reply(answer.status, answer.body, answer.headers);
  });
}

/** What to answer for a GET of this asset, given the request's headers. */
export async function serveStatic(asset: StaticAsset, request: IncomingHttpHeaders): Promise<StaticResponse> {
  const compressible = asset.body.length >= MIN_GZIP_BYTES;
  const gzipped = compressible && acceptsGzip(request['accept-encoding']);
  // Each encoding is its own representation, so it gets its own strong validator.
  const etag = gzipped ? asset.etag.slice(0, -1) + '-gz"' : asset.etag;
  const headers: Record<string, string> = { ...asset.headers, etag };
  if (compressible) headers.vary = 'accept-encoding';
  if (matches(request['if-none-match'], etag)) return { status: 304, body: null, headers };
  if (!gzipped) return { status: 200, body: asset.body, headers };
  headers['content-encoding'] = 'gzip';
  return { status: 200, body: await (asset.gzipped ??= gzipAsync(asset.body)), headers };
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    return coding.trim() === 'gzip' && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === 'W/' + etag;
  });
}
