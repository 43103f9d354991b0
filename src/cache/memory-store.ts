// The in-memory backend, for one process with no Redis: an LRU bounded by entry count and by bytes, with
// the same claim / put / invalidate semantics as the Redis store (epochs, fill locks with a TTL, tag indexes).
import { freshUntilOf, type CacheStore, type EntryRef, type FillClaim, type InvalidateSpec, type PutParams } from './store.ts';

export interface MemoryStoreOptions {
  maxEntries: number;
  maxBytes: number;
}

interface Slot {
  value: Buffer;
  expiresAt: number;
  namespace: string;
  tags: readonly string[];
}

const slotKey = (ref: EntryRef): string => `${ref.namespace}\0${ref.id}`;

export function memoryCacheStore(options: MemoryStoreOptions): CacheStore {
  // Map iteration order is insertion order: re-inserting on access makes the first key the least recently used.
  const slots = new Map<string, Slot>();
  const locks = new Map<string, { token: string; until: number }>();
  const byNamespace = new Map<string, Set<string>>();
  const byTag = new Map<string, Set<string>>();
  const epochs = new Map<string, number>();
  /** Namespaces that claimed fills under a tag: an invalidation by that tag moves their epochs. */
  const tagNamespaces = new Map<string, Set<string>>();
  let bytes = 0;

  const index = (map: Map<string, Set<string>>, name: string): Set<string> => {
    let set = map.get(name);
    if (set === undefined) map.set(name, (set = new Set()));
    return set;
  };

  function remove(key: string): boolean {
    const slot = slots.get(key);
    if (slot === undefined) return false;
    slots.delete(key);
    bytes -= slot.value.length;
    byNamespace.get(slot.namespace)?.delete(key);
    for (const tag of slot.tags) byTag.get(tag)?.delete(key);
    return true;
  }

  function live(key: string, now: number): Slot | null {
    const slot = slots.get(key);
    if (slot === undefined) return null;
    if (slot.expiresAt <= now) {
      remove(key);
      return null;
    }
    slots.delete(key);
    slots.set(key, slot);
    return slot;
  }

  const epochOf = (namespace: string): string => String(epochs.get(namespace) ?? 0);

  return {
    kind: 'memory',

    async get(ref, now) {
      return live(slotKey(ref), now)?.value ?? null;
    },

    async claim(ref, token, lockTtlMs, now, tags): Promise<FillClaim> {
      const key = slotKey(ref);
      for (const tag of tags) index(tagNamespaces, tag).add(ref.namespace);
      const epoch = epochOf(ref.namespace);
      const slot = live(key, now);
      if (slot !== null && freshUntilOf(slot.value) > now) return { entry: slot.value, locked: false, epoch };
      const held = locks.get(key);
      if (held !== undefined && held.until > now) return { entry: null, locked: false, epoch };
      locks.set(key, { token, until: now + lockTtlMs });
      return { entry: null, locked: true, epoch };
    },

    async put(ref, params: PutParams) {
      const key = slotKey(ref);
      if (locks.get(key)?.token === params.token) locks.delete(key);
      if (epochOf(ref.namespace) !== params.epoch) return false;
      if (params.value.length > options.maxBytes) return false;
      remove(key);
      slots.set(key, { value: params.value, expiresAt: params.now + params.lifetimeMs, namespace: ref.namespace, tags: params.tags });
      bytes += params.value.length;
      index(byNamespace, ref.namespace).add(key);
      for (const tag of params.tags) index(byTag, tag).add(key);
      for (const oldest of slots.keys()) {
        if (slots.size <= options.maxEntries && bytes <= options.maxBytes) break;
        remove(oldest);
      }
      return true;
    },

    async release(ref, token) {
      const key = slotKey(ref);
      if (locks.get(key)?.token === token) locks.delete(key);
    },

    async ping() {},

    // The store itself is in the process: nothing nearer to hold.
    peek: () => null,
    localState: () => null,

    async close() {},

    async invalidate(spec: InvalidateSpec) {
      const { tags, namespace } = spec;
      const keys = new Set<string>();
      if (tags !== undefined && tags.length > 0) {
        for (const tag of tags) for (const key of byTag.get(tag) ?? []) {
          if (namespace === undefined || slots.get(key)?.namespace === namespace) keys.add(key);
        }
      } else if (namespace !== undefined) {
        for (const key of byNamespace.get(namespace) ?? []) keys.add(key);
      } else throw new TypeError('invalidate needs tags or a namespace');
      // Every namespace that could be filling a matching entry moves its epoch.
      const touched = namespace !== undefined ? [namespace] : new Set(tags!.flatMap((tag) => [...(tagNamespaces.get(tag) ?? [])]));
      for (const ns of touched) epochs.set(ns, (epochs.get(ns) ?? 0) + 1);
      let deleted = 0;
      for (const key of keys) if (remove(key)) deleted++;
      return deleted;
    },
  };
}
