// Reading a JSON request body: media type first, then the size limit (Content-Length before a byte is read,
// then a running count), then a parse that refuses prototype-poisoning keys.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.ts';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Whether the request carries a body at all (a length above zero, or a chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/**
 * Resolves the parsed body, or undefined when the request has none. Rejects with an HttpError:
 * 415 for a non-JSON media type, 413 past `limit` (the rest is not buffered), 400 for malformed JSON or a
 * `__proto__` / `constructor.prototype` key.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!hasBody(req)) return Promise.resolve(undefined);
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) return Promise.reject(HttpError.of('UNSUPPORTED_MEDIA_TYPE'));
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
        resolve(parseJson(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
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

const SUSPICIOUS = /"(?:__proto__|constructor)"\s*:/;

/** JSON.parse that refuses keys able to pollute a prototype once the value is merged into another object. */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw HttpError.of('MALFORMED_JSON');
  }
  // Only bodies that mention the keys at all pay for the walk.
  if (SUSPICIOUS.test(text)) assertNoPoison(value);
  return value;
}

function assertNoPoison(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) assertNoPoison(item);
    return;
  }
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) throw HttpError.of('PROTOTYPE_POISONING');
  const ctor = (value as Record<string, unknown>).constructor;
  if (Object.prototype.hasOwnProperty.call(value, 'constructor') && ctor !== null && typeof ctor === 'object' && Object.prototype.hasOwnProperty.call(ctor, 'prototype')) {
    throw HttpError.of('PROTOTYPE_POISONING');
  }
  for (const key of Object.keys(value)) assertNoPoison((value as Record<string, unknown>)[key]);
}
