import type { Readable } from 'node:stream';
import type { StreamBody } from './types.ts';

/** An explicit response from a handler: status, headers, and a body serialized through that status's schema. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> | undefined,
  ) {}
}

export function isStream(body: unknown): body is StreamBody {
  return body !== null && typeof body === 'object' && (typeof (body as Readable).pipe === 'function' || Symbol.asyncIterator in body)
    && !Array.isArray(body);
}
