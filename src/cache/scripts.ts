// The cache's Lua scripts, read once from lua/, run with EVALSHA and re-sent with EVAL on NOSCRIPT. Arguments
// and replies stay binary (entries carry raw body bytes), so the scripts go through sendCommand with Buffers.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RESP_TYPES } from 'redis';
import type { Redis } from '../redis/index.ts';

export const BINARY_REPLIES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

export interface CacheScript {
  run(client: Redis, keys: readonly string[], args: readonly (string | Buffer)[]): Promise<unknown>;
}

function loadScript(file: string): CacheScript {
  const source = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(client, keys, args) {
      const tail = [String(keys.length), ...keys, ...args];
      try {
        return await client.sendCommand(['EVALSHA', sha, ...tail], BINARY_REPLIES);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return client.sendCommand(['EVAL', source, ...tail], BINARY_REPLIES);
      }
    },
  };
}

export const claimFill = loadScript('claimFill-3.lua');
export const storeEntry = loadScript('storeEntry-4.lua');
export const releaseFill = loadScript('releaseFill-1.lua');
export const invalidateIndexes = loadScript('invalidate-2.lua');
