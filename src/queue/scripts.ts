// The queue's Lua scripts, one file per atomic move named with its key count (lua/settleJobs-5.lua), loaded
// once and run with EVALSHA (EVAL on NOSCRIPT) by the shared loader in src/redis. A changed script has a new
// hash, so processes of two versions never run each other's scripts.
import { luaScriptFile, type LuaScript, type Redis } from '../redis/index.ts';

const dir = new URL('./lua/', import.meta.url);

export const SCRIPTS = {
  addJobs: luaScriptFile(dir, 'addJobs-2.lua'),
  startJobs: luaScriptFile(dir, 'startJobs-4.lua'),
  settleJobs: luaScriptFile(dir, 'settleJobs-5.lua'),
  promoteDelayed: luaScriptFile(dir, 'promoteDelayed-2.lua'),
  heartbeat: luaScriptFile(dir, 'heartbeat-2.lua'),
  reportProgress: luaScriptFile(dir, 'reportProgress-1.lua'),
  abortJob: luaScriptFile(dir, 'abortJob-3.lua'),
  replayDead: luaScriptFile(dir, 'replayDead-3.lua'),
  retireConsumers: luaScriptFile(dir, 'retireConsumers-2.lua'),
  requeueStalled: luaScriptFile(dir, 'requeueStalled-1.lua'),
} as const;

export type Script = LuaScript;

const declaredKeys = (script: LuaScript): number => Number(/-(\d+)\.lua$/.exec(script.name)?.[1]);

/** Runs a script; `keys` must hold exactly the key count its file name declares. */
export async function runScript<T = unknown>(redis: Redis, script: LuaScript, keys: string[], args: string[]): Promise<T> {
  if (keys.length !== declaredKeys(script)) throw new Error(`${script.name} takes ${declaredKeys(script)} keys, got ${keys.length}`);
  return (await script.run(redis, keys, args)) as T;
}
