// Every Redis key of idempotency records. One key per (principal, operation, Idempotency-Key), named by a hash:
// a client-chosen key can be 255 characters of anything, and a hash spreads records over Cluster slots.
import { createHash } from 'node:crypto';

export interface IdempotencyKeys {
  /** Hash holding one key's claim and, once the first request finished, its response. */
  record(principal: string, operation: string, key: string): string;
}

export function idempotencyKeys(prefix: string): IdempotencyKeys {
  const base = `${prefix}idem:`;
  return {
    // Length prefixes: no (principal, operation, key) triple can spell another's.
    record: (principal, operation, key) => base + createHash('sha256')
      .update(`${principal.length}:${principal}${operation.length}:${operation}${key}`)
      .digest('base64url'),
  };
}
