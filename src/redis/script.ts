// A Lua script loaded from a file, hashed once, run with EVALSHA and re-sent with EVAL only when the server
// does not know it yet (NOSCRIPT after a restart or on a fresh server).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RESP_TYPES } from 'redis';
import type { Redis } from './client.ts';

/** Command options under which bulk-string replies arrive as Buffers (binary values, e.g. cached bodies). */
export const BINARY_REPLIES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

export interface LuaScript {
  readonly name: string;
  readonly sha: string;
  /** Buffer arguments go as they are; `binary` returns bulk strings as Buffers instead of UTF-8 strings. */
  run(client: Redis, keys: string[], args: (string | number | Buffer)[], replies?: 'text' | 'binary'): Promise<unknown>;
}

export function luaScript(name: string, source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    name,
    sha,
    async run(client, keys, args, replies = 'text') {
      // One array, built once: the queue's batched calls carry hundreds of arguments.
      const command: (string | Buffer)[] = ['EVALSHA', sha, String(keys.length)];
      for (const key of keys) command.push(key);
      for (const arg of args) command.push(typeof arg === 'number' ? String(arg) : arg);
      const options = replies === 'binary' ? BINARY_REPLIES : undefined;
      try {
        return await client.sendCommand(command, options);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        command[0] = 'EVAL';
        command[1] = source;
        return client.sendCommand(command, options);
      }
    },
  };
}

/** Loads `dir/name` as a script; the file's name (e.g. `addJob-3.lua`) says what it moves and how many keys. */
export function luaScriptFile(dir: URL, name: string): LuaScript {
  return luaScript(name, readFileSync(new URL(name, dir), 'utf8'));
}
