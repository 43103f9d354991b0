// A Lua script loaded from a file, hashed once, run with EVALSHA and re-sent with EVAL only when the server
// does not know it yet (NOSCRIPT after a restart or on a fresh server).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from './client.ts';

export interface LuaScript {
  readonly name: string;
  readonly sha: string;
  run(client: Redis, keys: string[], args: (string | number)[]): Promise<unknown>;
}

export function luaScript(name: string, source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    name,
    sha,
    async run(client, keys, args) {
      const options = { keys, arguments: args.map(String) };
      try {
        return await client.evalSha(sha, options);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return client.eval(source, options);
      }
    },
  };
}

/** Loads `dir/name` as a script; the file's name (e.g. `addJob-3.lua`) says what it moves and how many keys. */
export function luaScriptFile(dir: URL, name: string): LuaScript {
  return luaScript(name, readFileSync(new URL(name, dir), 'utf8'));
}
