// Every Redis key the rate limiter writes: one per (partition, policy), holding the theoretical arrival time.
// The partition is the hash tag, so the policies of one check share a slot (one script on Redis Cluster) and
// partitions spread over the slots.
import { createHash } from 'node:crypto';

/** `{`, `}` would end the hash tag early; a long partition (a custom key) is hashed to keep keys short. */
export function partitionTag(partition: string): string {
  if (partition.length > 128) return createHash('sha256').update(partition).digest('hex');
  if (partition.indexOf('{') === -1 && partition.indexOf('}') === -1) return partition;
  return partition.replace(/[{}]/g, (c) => (c === '{' ? '(' : ')'));
}

export function policyKey(prefix: string, partition: string, policy: string): string {
  return `${prefix}rl:{${partitionTag(partition)}}:${policy}`;
}
