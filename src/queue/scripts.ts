// The queue's Lua scripts: read once from lua/, hashed once, run with EVALSHA and re-sent with EVAL only when
// Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH). A changed script has a new hash, so processes of
// two versions never run each other's scripts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from '../redis/index.ts';

export interface Script {
  readonly name: string;
  readonly keys: number;
  readonly source: string;
  readonly sha: string;
}

function load(file: string): Script {
  const source = readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
  const dash = file.lastIndexOf('-');
  return {
    name: file.slice(0, dash),
    keys: Number(file.slice(dash + 1)),
    source,
    sha: createHash('sha1').update(source).digest('hex'),
  };
}

export const SCRIPTS = {
  addJobs: load('addJobs-2'),
  startJobs: load('startJobs-3'),
  settleJobs: load('settleJobs-4'),
  promoteDelayed: load('promoteDelayed-2'),
  heartbeat: load('heartbeat-2'),
  reportProgress: load('reportProgress-1'),
  abortJob: load('abortJob-3'),
  replayDead: load('replayDead-3'),
} as const;

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');

// No per-command timer: the worker waits out a stalled Redis, and producers bound their calls with withTimeout.
const UNTIMED = { timeout: 0 };

/** Runs a script; `keys` must hold exactly the script's declared key count. */
export async function runScript<T = unknown>(redis: Redis, script: Script, keys: string[], args: string[]): Promise<T> {
  if (keys.length !== script.keys) throw new Error(`${script.name} takes ${script.keys} keys, got ${keys.length}`);
  try {
    return (await redis.sendCommand(['EVALSHA', script.sha, String(script.keys), ...keys, ...args], UNTIMED)) as T;
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return (await redis.sendCommand(['EVAL', script.source, String(script.keys), ...keys, ...args], UNTIMED)) as T;
  }
}
