// API-key authentication for write routes: keys come from API_KEYS; a key is identified by a short hash,
// never logged or cached in clear.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError, defineDependency } from '../router/index.ts';

export interface ApiKeyPrincipal {
  /** First 12 hex chars of the key's SHA-256: stable, safe to log and to key caches on. */
  keyId: string;
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

export function apiKeyDependency(keys: string[]) {
  const known = keys.map(digest);
  return defineDependency<ApiKeyPrincipal>({
    name: 'apiKey',
    security: { id: 'ApiKeyAuth', scheme: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'One of the keys in API_KEYS.' } },
    principal: (p) => p.keyId,
    resolve(ctx) {
      const given = ctx.req.headers['x-api-key'];
      const unauthorized = (detail: string) => HttpError.of('UNAUTHORIZED', detail, { headers: { 'www-authenticate': 'ApiKey header="X-API-Key"' } });
      if (typeof given !== 'string' || given === '') throw unauthorized('Send an API key in the X-API-Key header.');
      const d = digest(given);
      // Compare digests (fixed length) in constant time, against every key, so timing reveals nothing.
      let ok = false;
      for (const k of known) ok = timingSafeEqual(k, d) || ok;
      if (!ok) throw unauthorized('The API key is not valid.');
      return { keyId: d.toString('hex').slice(0, 12) };
    },
  });
}
