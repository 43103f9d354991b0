// The stored representation of a response: what a hit sends, byte for byte, without re-serialising.
// Layout: `<freshUntil>\n<meta JSON>\n<body bytes>`. freshUntil leads in decimal so the Lua scripts can tell a
// fresh entry from a stale one without parsing the rest.
import { createHash } from 'node:crypto';

export interface StoredResponse {
  status: number;
  /** Content type and the other headers chosen at store time (lower-case names). */
  headers: Record<string, string>;
  /** Strong, quoted, a pure function of status, content type and body: equal in every process. */
  etag: string;
  storedAt: number;
  /** Epoch milliseconds until which the entry is fresh. */
  freshUntil: number;
  /** Until then a stale entry is served at once while one refresh runs (stale-while-revalidate). */
  staleUntil: number;
  /** Until then a stale entry is served when the handler fails (stale-if-error). */
  errorUntil: number;
  /** The body as stored: brotli-compressed when `brotliEtag` is set. */
  body: Buffer;
  /** The ETag of the brotli representation when the body is stored compressed, else null. */
  brotliEtag: string | null;
  /** The uncompressed body once known (always, for an uncompressed entry); compression.ts fills it in. */
  identity: Buffer | null;
  /** Bytes of the uncompressed body. */
  identityLength: number;
}

interface Meta {
  s: number;
  h: Record<string, string>;
  e: string;
  t: number;
  w: number;
  x: number;
  /** Brotli ETag and uncompressed length, for a compressed body only. */
  b?: string;
  n?: number;
}

const NEWLINE = 0x0a;

/** A strong ETag computed once at store time; no per-process salt, so every worker agrees. */
export function strongEtag(status: number, contentType: string, body: Buffer): string {
  const digest = createHash('sha256').update(`${status}\0${contentType}\0`).update(body).digest('base64url');
  return `"${digest.slice(0, 27)}"`;
}

export function encodeEntry(entry: StoredResponse): Buffer {
  const meta: Meta = { s: entry.status, h: entry.headers, e: entry.etag, t: entry.storedAt, w: entry.staleUntil, x: entry.errorUntil };
  if (entry.brotliEtag !== null) {
    meta.b = entry.brotliEtag;
    meta.n = entry.identityLength;
  }
  const head = Buffer.from(`${entry.freshUntil}\n${JSON.stringify(meta)}\n`);
  return Buffer.concat([head, entry.body]);
}

// Every hit on one entry carries the same meta text: parse each text once (bounded; cleared when full).
const parsedMeta = new Map<string, Meta | null>();
const PARSED_MAX = 10_000;

function parseMeta(text: string): Meta | null {
  let meta = parsedMeta.get(text);
  if (meta !== undefined) return meta;
  try {
    const value = JSON.parse(text) as Meta;
    meta = typeof value === 'object' && value !== null && typeof value.e === 'string' && value.h !== null && typeof value.h === 'object' ? value : null;
  } catch {
    meta = null;
  }
  if (parsedMeta.size >= PARSED_MAX) parsedMeta.clear();
  parsedMeta.set(text, meta);
  return meta;
}

/** Null for anything that is not an entry this code wrote (a foreign or truncated value is a miss, not a crash). */
export function decodeEntry(raw: Buffer): StoredResponse | null {
  const first = raw.indexOf(NEWLINE);
  const second = first === -1 ? -1 : raw.indexOf(NEWLINE, first + 1);
  if (second === -1) return null;
  const freshUntil = Number(raw.toString('latin1', 0, first));
  const meta = parseMeta(raw.toString('utf8', first + 1, second));
  if (!Number.isFinite(freshUntil) || meta === null) return null;
  const body = raw.subarray(second + 1);
  return {
    status: meta.s,
    headers: meta.h,
    etag: meta.e,
    storedAt: meta.t,
    freshUntil,
    staleUntil: meta.w,
    errorUntil: meta.x,
    body,
    brotliEtag: meta.b ?? null,
    identity: meta.b === undefined ? body : null,
    identityLength: meta.n ?? body.length,
  };
}

/** How long Redis keeps the entry: to the end of its last stale window. */
export function entryLifetimeMs(entry: StoredResponse): number {
  return Math.max(entry.freshUntil, entry.staleUntil, entry.errorUntil) - entry.storedAt;
}
