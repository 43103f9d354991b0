// Reading a JSON request body: media type first, then the size limit (Content-Length before a byte is read,
// then a running count), then a parse that refuses bad UTF-8, nesting past a depth and prototype-poisoning keys.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
// JSON is UTF-8 (RFC 8259 §8.1): a body that says it is anything else would be misread, so it is refused.
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;]*))/i;
const isUtf8Label = (label: string): boolean => /^utf-?8$/i.test(label);

/** Whether a Content-Type names JSON in UTF-8 (no charset, or utf-8). */
export function isJsonType(type: string | undefined): boolean {
  if (type === undefined || !JSON_TYPE.test(type)) return false;
  const charset = CHARSET.exec(type);
  return charset === null || isUtf8Label(charset[1] ?? charset[2]);
}

/** Whether the request carries a body at all (a length above zero, or a chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/**
 * Resolves the parsed body, or undefined when the request has none. Rejects with an HttpError:
 * 415 for a non-JSON media type or a charset other than UTF-8, 413 past `limit` (the rest is not buffered),
 * 400 for malformed JSON (bad UTF-8 included), nesting deeper than `maxDepth`, or a `__proto__` /
 * `constructor.prototype` key.
 */
export function readJsonBody(req: IncomingMessage, limit: number, maxDepth: number): Promise<unknown> {
  if (!hasBody(req)) return Promise.resolve(undefined);
  if (!isJsonType(req.headers['content-type'])) return Promise.reject(HttpError.of('UNSUPPORTED_MEDIA_TYPE'));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      try {
        const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        // toString would turn bad bytes into U+FFFD silently: the client would get back text it never sent.
        if (!isUtf8(bytes)) throw HttpError.of('MALFORMED_JSON', 'The request body is not valid UTF-8.');
        resolve(parseJson(bytes.toString('utf8'), maxDepth));
      } catch (err) {
        reject(err);
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(HttpError.of('BAD_REQUEST', 'The request body could not be read.', { cause: err }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): HttpError {
  // The connection closes after the answer, so the unread rest of the body is never buffered.
  return HttpError.of('BODY_TOO_LARGE', `The request body is larger than ${limit} bytes.`, { headers: { connection: 'close' } });
}

// A key can spell __proto__ or constructor only literally or through \u escapes (no other escape yields
// their letters): a body with none of the three cannot hold one, so only the rest pay for the key walk.
const mayPoison = (text: string): boolean => text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');

/**
 * JSON.parse that refuses, with a 400, nesting deeper than `maxDepth` (so nothing later that walks the value
 * can overflow the stack) and keys able to pollute a prototype once the value is merged into another object.
 * The keys are judged after parsing, so no escape spelling gets past. JSON.parse itself does not recurse.
 */
export function parseJson(text: string, maxDepth: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw HttpError.of('MALFORMED_JSON');
  }
  if (value !== null && typeof value === 'object' && (mayNestDeeper(text, maxDepth) || mayPoison(text))) inspect(value, maxDepth);
  return value;
}

/** A body with at most `maxDepth` brackets cannot nest deeper; counting them is a native search, no walk. */
function mayNestDeeper(text: string, maxDepth: number): boolean {
  let brackets = 0;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++brackets > maxDepth) return true;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++brackets > maxDepth) return true;
  return false;
}

/** One iterative walk (an explicit stack: no input can overflow it) for the depth limit and the forbidden keys. */
function inspect(root: object, maxDepth: number): void {
  // Pairs of (value, its depth); JSON.parse builds plain objects and arrays only.
  const stack: unknown[] = [root, 1];
  while (stack.length > 0) {
    const depth = stack.pop() as number;
    const value = stack.pop() as Record<string, unknown>;
    if (depth > maxDepth) throw HttpError.of('JSON_TOO_DEEP', `The request body nests deeper than ${maxDepth} levels.`);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item !== null && typeof item === 'object') stack.push(item, depth + 1);
      }
      continue;
    }
    for (const key in value) {
      if (key === '__proto__') throw HttpError.of('PROTOTYPE_POISONING');
      const item = value[key];
      if (item === null || typeof item !== 'object') continue;
      if (key === 'constructor' && Object.prototype.hasOwnProperty.call(item, 'prototype')) throw HttpError.of('PROTOTYPE_POISONING');
      stack.push(item, depth + 1);
    }
  }
}
