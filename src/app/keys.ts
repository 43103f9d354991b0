// Every Redis key of the catalogue. The `{items}` hash tag puts them all in one Cluster slot, so the
// multi-key scripts stay valid on Redis Cluster.
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

/**
 * Every Redis key of the catalogue exports. The `{exports}` hash tag puts them in one Cluster slot, so the scripts
 * that move a file into place and count it against its principal stay valid on Redis Cluster.
 */
export interface ExportKeys {
  /** A finished export file, expiring with its job. */
  file(jobId: string): string;
  /** The file while one attempt writes it (APPEND by chunks); each attempt has its own. */
  part(jobId: string, attempt: number): string;
  /** Sorted set of a principal's reservations: reservation → when it stops counting (epoch ms). */
  held(principal: string): string;
  /** Hash of a principal's reservations: reservation → bytes counted, plus `total`, their sum. */
  heldBytes(principal: string): string;
}

export function exportKeys(prefix: string): ExportKeys {
  const base = `${prefix}{exports}:`;
  return {
    file: (jobId) => `${base}file:${jobId}`,
    part: (jobId, attempt) => `${base}part:${jobId}:${attempt}`,
    held: (principal) => `${base}held:${principal}`,
    heldBytes: (principal) => `${base}held-bytes:${principal}`,
  };
}
