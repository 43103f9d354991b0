// Every Redis key the cache writes. All keys of one namespace share the hash tag `{namespace}`, so the Lua
// scripts that touch several of them stay in one slot on Redis Cluster, and namespaces spread over the slots.

/** Keys of one namespace: entries, their fill locks, the indexes invalidation reads, and the store epoch. */
export interface NamespaceKeys {
  /** The stored response for a request key. */
  entry(id: string): string;
  /** Held (token, TTL) by the one process filling an entry: cross-process single-flight. */
  lock(id: string): string;
  /** Sorted set of every entry key in the namespace, scored by expiry: namespace clear reads it. */
  readonly all: string;
  /** Sorted set of the entry keys stored with `tag`, scored by expiry. */
  tag(tag: string): string;
  /** Bumped by every invalidation; a fill that read an older epoch does not store (no stale write after a write). */
  readonly epoch: string;
}

/** `{`, `}` would end the hash tag early; a namespace is otherwise used as given. */
const hashTagSafe = (s: string): string => s.replace(/[{}]/g, (c) => (c === '{' ? '(' : ')'));

export function namespaceKeys(prefix: string, namespace: string): NamespaceKeys {
  const base = `${prefix}cache:{${hashTagSafe(namespace)}}:`;
  return {
    entry: (id) => `${base}e:${id}`,
    lock: (id) => `${base}l:${id}`,
    all: `${base}all`,
    tag: (tag) => `${base}t:${tag}`,
    epoch: `${base}epoch`,
  };
}

/** Set of the namespaces holding entries stored with `tag`: how `invalidate({ tags })` finds them without SCAN. */
export function tagNamespacesKey(prefix: string, tag: string): string {
  return `${prefix}cache:tag-namespaces:${tag}`;
}
