// A Redis that evicts keys under memory pressure silently drops queue data (a job hash, a stream entry), so the
// start-up check wants maxmemory-policy noeviction on every master. It reads `INFO memory`, which managed
// services allow where they forbid CONFIG GET.
import { SkiffStartupError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { withTimeout, type Redis } from './client.ts';

export class RedisEvictionError extends SkiffStartupError {
  override readonly name = 'RedisEvictionError';

  constructor(detail: string) {
    super('SKIFF_REDIS_EVICTION', detail);
  }
}

interface ClusterLike {
  masters: unknown[];
  nodeClient(node: unknown): Redis | Promise<Redis>;
}

/** The `maxmemory_policy` field of an `INFO memory` reply. */
export function evictionPolicy(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

async function masterClients(redis: Redis): Promise<Redis[]> {
  const cluster = redis as unknown as Partial<ClusterLike>;
  if (!Array.isArray(cluster.masters) || typeof cluster.nodeClient !== 'function') return [redis];
  return Promise.all(cluster.masters.map((m) => cluster.nodeClient!(m)));
}

/**
 * Warns when a master may evict keys, or throws RedisEvictionError when `require` is set. A Redis that does not
 * answer within `timeoutMs` is not checked (a warning): skiff starts while Redis is away and degrades.
 */
export async function checkEvictionPolicy(redis: Redis, options: { require: boolean; log: Logger; timeoutMs: number }): Promise<void> {
  let policies: (string | undefined)[];
  try {
    policies = await withTimeout((async () => {
      // The client connects in the background (createRedis): wait for it, within the same bound.
      while (!redis.isReady) await new Promise((resolve) => setTimeout(resolve, 10));
      const clients = await masterClients(redis);
      return Promise.all(clients.map(async (c) => evictionPolicy(String(await c.info('memory')))));
    })(), options.timeoutMs);
  } catch (err) {
    options.log.warn('could not read maxmemory-policy from INFO memory; queue data needs noeviction', { err: err instanceof Error ? err.message : String(err) });
    return;
  }
  const evicting = [...new Set(policies.filter((p) => p !== 'noeviction'))];
  if (evicting.length === 0) return;
  const detail = `Redis maxmemory-policy is ${evicting.join(', ')}: under memory pressure Redis may evict queue data (jobs lost); set maxmemory-policy noeviction`;
  if (options.require) throw new RedisEvictionError(`${detail} (REDIS_REQUIRE_NOEVICTION is set)`);
  options.log.warn(detail);
}
