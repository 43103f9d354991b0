// Every Redis key of the catalogue. The `{items}` hash tag puts them all in one Cluster slot, so the
// multi-key scripts and transactions below stay valid on Redis Cluster.
export interface ItemKeys {
  item(id: string): string;
  /** Sorted set of every id (score 0, lexicographic = creation order). */
  all: string;
  /** Sorted set of the ids carrying `tag`. */
  tag(tag: string): string;
  /** What item(id) and tag(tag) start with, for the Lua scripts that derive them. */
  itemPrefix: string;
  tagPrefix: string;
}

export function itemKeys(prefix: string): ItemKeys {
  const base = `${prefix}{items}:`;
  return {
    item: (id) => `${base}item:${id}`,
    all: `${base}all`,
    tag: (tag) => `${base}tag:${tag}`,
    itemPrefix: `${base}item:`,
    tagPrefix: `${base}tag:`,
  };
}

/** Finished catalogue exports, one string per export job, expiring with the job. */
export function exportFileKey(prefix: string, jobId: string): string {
  return `${prefix}{exports}:file:${jobId}`;
}
