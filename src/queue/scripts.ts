// The queue's Lua scripts, one file per atomic move named with its key count (lua/settleJobs-5.lua), loaded
// once and run with EVALSHA (EVAL on NOSCRIPT) by the shared loader in src/redis. A changed script has a new
// hash, so processes of two versions never run each other's scripts. Scripts that move jobs get
// lua/lib/indexes.lua prepended: the status indexes, retention, per-minute counters and attempts history that
// every move keeps the same way; those that enqueue, start, end, abort or delete jobs also lua/lib/groups.lua
// (group concurrency); those that give a job its dedupe key (enqueue, retry, replay) lua/lib/dedupe.lua.
import { readFileSync } from 'node:fs';
import { luaScript, type LuaScript, type Redis } from '../redis/index.ts';

const dir = new URL('./lua/', import.meta.url);
const indexes = readFileSync(new URL('lib/indexes.lua', dir), 'utf8');
const groups = readFileSync(new URL('lib/groups.lua', dir), 'utf8');
const dedupe = readFileSync(new URL('lib/dedupe.lua', dir), 'utf8');
const plain = (name: string): LuaScript => luaScript(name, readFileSync(new URL(name, dir), 'utf8'));
const moving = (name: string): LuaScript => luaScript(name, indexes + readFileSync(new URL(name, dir), 'utf8'));
const grouping = (name: string): LuaScript => luaScript(name, indexes + groups + readFileSync(new URL(name, dir), 'utf8'));
const deduping = (name: string, ...libs: string[]): LuaScript => luaScript(name, indexes + libs.join('') + dedupe + readFileSync(new URL(name, dir), 'utf8'));

export const SCRIPTS = {
  addJobs: deduping('addJobs-2.lua', groups),
  startJobs: grouping('startJobs-4.lua'),
  settleJobs: grouping('settleJobs-5.lua'),
  promoteDelayed: moving('promoteDelayed-2.lua'),
  heartbeat: plain('heartbeat-2.lua'),
  reportProgress: moving('reportProgress-1.lua'),
  abortJob: grouping('abortJob-3.lua'),
  replayDead: deduping('replayDead-3.lua'),
  retireConsumers: plain('retireConsumers-2.lua'),
  requeueStalled: moving('requeueStalled-1.lua'),
  retryJobs: deduping('retryJobs-2.lua'),
  deleteJobs: grouping('deleteJobs-2.lua'),
  promoteJob: moving('promoteJob-2.lua'),
  listJobs: plain('listJobs-1.lua'),
  setIfAbsent: plain('setIfAbsent-1.lua'),
} as const;

export type Script = LuaScript;

const declaredKeys = (script: LuaScript): number => Number(/-(\d+)\.lua$/.exec(script.name)?.[1]);

/** Runs a script; `keys` must hold exactly the key count its file name declares. */
export async function runScript<T = unknown>(redis: Redis, script: LuaScript, keys: string[], args: string[]): Promise<T> {
  if (keys.length !== declaredKeys(script)) throw new Error(`${script.name} takes ${declaredKeys(script)} keys, got ${keys.length}`);
  return (await script.run(redis, keys, args)) as T;
}
