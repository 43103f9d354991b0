// The Redis backend: one script call per check (spend-n.lua), its keys in the partition's slot, Redis TIME as
// the clock, so every process and host sharing the Redis sees one budget exactly.
import { luaScriptFile, type Redis } from '../redis/index.ts';
import { policyKey } from './keys.ts';
import type { GcraPolicy } from './policy.ts';
import type { RateLimitStore, Verdict } from './store.ts';

const spendScript = luaScriptFile(new URL('./lua/', import.meta.url), 'spend-n.lua');

export function redisRateLimitStore(client: Redis, prefix: string): RateLimitStore {
  return {
    kind: 'redis',
    async spend(partition, policies: readonly GcraPolicy[], cost) {
      const keys: string[] = [];
      const args: (string | number)[] = [cost];
      for (const p of policies) {
        keys.push(policyKey(prefix, partition, p.name));
        args.push(p.intervalUs, p.toleranceUs);
      }
      const reply = (await spendScript.run(client, keys, args)) as number[];
      const remaining: number[] = [];
      const resetUs: number[] = [];
      for (let i = 4; i < reply.length; i += 2) {
        remaining.push(reply[i]);
        resetUs.push(reply[i + 1]);
      }
      const verdict: Verdict = { allowed: reply[0] === 1, violated: reply[1] - 1, retryUs: reply[2], remaining, resetUs, at: reply[3] };
      return verdict;
    },
    async ping() {
      await client.ping();
    },
  };
}
