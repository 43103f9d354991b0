// What the scenarios read straight from Redis (the driver's own connection, never while Redis is paused): the
// catalogue seed, what a write left behind (looked up by its fingerprint), and job records.
import type { RedisClientType } from 'redis';
import { createItemStore } from '../../src/app/item-store.ts';
import { itemKeys } from '../../src/app/keys.ts';
import { createQueue, queueKeys, TERMINAL_STATUSES, type JobRecord, type Queue } from '../../src/queue/index.ts';
import type { Redis } from '../../src/redis/index.ts';
import { PREFIX } from './stack.ts';

const CHUNK = 500;

/** Runs `fn` over `xs` CHUNK at a time (node-redis pipelines each chunk's commands). */
async function chunked<T, R>(xs: T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(...(await Promise.all(xs.slice(i, i + CHUNK).map(fn))));
  return out;
}

/** Writes `n` catalogue items (as POST /v1/items would) and returns their ids. */
export async function seedItems(client: RedisClientType, n: number, tag = 'seed'): Promise<string[]> {
  const store = createItemStore(client as unknown as Redis, PREFIX, 10_000);
  const indexes = Array.from({ length: n }, (_, i) => i);
  const items = await chunked(indexes, (i) => store.create({ name: `seed ${i}`, price: i % 100, tags: [tag], description: 'x'.repeat(200) }));
  return items.map((item) => item.id);
}

/** How many catalogue items carry each name. */
export async function itemsByName(client: RedisClientType): Promise<Map<string, number>> {
  const keys = itemKeys(PREFIX);
  const ids = await client.zRange(keys.all, 0, -1);
  const names = await chunked(ids, (id) => client.hGet(keys.item(id), 'name'));
  return countBy(names);
}

/** How many export jobs exist for each export tag (the export payload's `tag`). */
export async function exportsByTag(client: RedisClientType): Promise<Map<string, number>> {
  const keys = queueKeys(PREFIX, 'default');
  const jobKeys: string[] = [];
  for await (const batch of client.scanIterator({ MATCH: `${keys.jobPrefix}*`, COUNT: 1000 })) jobKeys.push(...(batch as unknown as string[]));
  const rows = await chunked(jobKeys, (key) => client.hmGet(key, ['name', 'payload']));
  const tags = rows
    .filter(([name, payload]) => name === 'catalog.export' && payload)
    .map(([, payload]) => (JSON.parse(payload as string) as { tag?: string }).tag);
  return countBy(tags);
}

function countBy(values: (string | null | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) if (typeof v === 'string') counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

export function jobReader(client: RedisClientType): Queue {
  return createQueue({ redis: client as unknown as Redis, prefix: PREFIX, name: 'default', jobs: [], commandTimeoutMs: 10_000 });
}

/** Each job's record (null: the record is gone). */
export async function jobRecords(queue: Queue, ids: string[]): Promise<Map<string, JobRecord | null>> {
  const records = await chunked(ids, (id) => queue.getJob(id));
  return new Map(ids.map((id, i) => [id, records[i]]));
}

export interface JobFate {
  /** Acknowledged (202) jobs whose record is gone. */
  lost: number;
  /** Acknowledged jobs still not finished when the wait ended. */
  stuck: number;
  complete: number;
  /** Ended failed or aborted. */
  failed: number;
}

/** Waits (up to `timeoutMs`) until every acknowledged job has ended, then says what became of them. */
export async function settleJobs(queue: Queue, ids: string[], timeoutMs: number): Promise<JobFate> {
  const deadline = Date.now() + timeoutMs;
  const terminal = new Set<string>(TERMINAL_STATUSES);
  let records = await jobRecords(queue, ids);
  const open = () => [...records.values()].filter((r) => r !== null && !terminal.has(r.status)).length;
  while (open() > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    records = await jobRecords(queue, ids);
  }
  const fate: JobFate = { lost: 0, stuck: 0, complete: 0, failed: 0 };
  for (const r of records.values()) {
    if (r === null) fate.lost++;
    else if (r.status === 'complete') fate.complete++;
    else if (terminal.has(r.status)) fate.failed++;
    else fate.stuck++;
  }
  return fate;
}
