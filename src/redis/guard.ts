// Deadline-guarded writes: a Lua write carries the request's deadline (absolute, epoch ms) and refuses to write
// once Redis's own clock has passed it. A write the client gave up on is then never applied later, when a hung
// Redis resumes and runs what was queued on its socket: so a 503 for it truthfully says "not applied". The client
// waits GUARD_GRACE_MS beyond the deadline, so a reply already in flight when it passes is not mistaken for one.
// Redis 7 replicates scripts by their effects, so reading TIME before writing is allowed. The clocks of the app
// hosts and Redis must agree (NTP): skew moves the effective deadline by as much.
import { readFileSync } from 'node:fs';
import { DeadlineExceededError, type Deadline } from '../deadline.ts';
import type { Redis } from './client.ts';
import { luaScript } from './script.ts';

/** How much longer than the deadline the client waits for a guarded write's reply. */
export const GUARD_GRACE_MS = 50;

/** The error a guard returns; the rest of the message says why. */
const REFUSED = 'DEADLINE';

// Prepended on the script's first line (its own starts with a comment), so Redis error line numbers stay true.
const GUARD = "local guard_now = redis.call('TIME') "
  + "if tonumber(guard_now[1]) * 1000 + math.floor(tonumber(guard_now[2]) / 1000) > tonumber(ARGV[1]) then "
  + `return redis.error_reply('${REFUSED} the request deadline passed before this write ran; nothing was written') end `;

/** The source a guarded script runs: the guard, then the file's own lines. */
export function guardedSource(source: string): string {
  return GUARD + source;
}

export interface GuardedScript {
  readonly name: string;
  /**
   * Runs the script with the deadline as ARGV[1] (its own arguments follow). Fails at once, sending nothing, when
   * the deadline is spent; a timeout or a refusal rejects with DeadlineExceededError `applied: false`.
   */
  run(client: Redis, deadline: Deadline, keys: string[], args: (string | number | Buffer)[]): Promise<unknown>;
}

/**
 * Loads `dir/name` as a guarded write. The file's header says `ARGV[1] deadline (the guard's)`; the guard runs
 * before its first line, so the script body never sees a request past its deadline.
 */
export function guardedScriptFile(dir: URL, name: string): GuardedScript {
  const script = luaScript(name, guardedSource(readFileSync(new URL(name, dir), 'utf8')));
  return {
    name,
    async run(client, deadline, keys, args) {
      if (deadline.spent) throw deadline.exceeded(false);
      try {
        return await deadline.bound(script.run(client, keys, [deadline.expiresAt, ...args]), GUARD_GRACE_MS);
      } catch (err) {
        const refused = err instanceof Error && err.message.startsWith(REFUSED);
        if (refused || err instanceof DeadlineExceededError) throw deadline.exceeded(false);
        throw err;
      }
    },
  };
}
