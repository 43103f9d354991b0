// The Redis backend: shared by every process, so a fill, a hit and an invalidation in one process are seen
// by all. Hits are one GET (none at all for an entry the local tier holds); fills and invalidations are one
// script each, within one namespace's slot.
import { BINARY_REPLIES, luaScriptFile, type Redis } from '../redis/index.ts';
import { namespaceKeys, tagNamespacesKey, type NamespaceKeys } from './keys.ts';
import type { LocalTier } from './local-tier.ts';
import type { CacheStore, EntryRef, FillClaim, InvalidateSpec } from './store.ts';

const lua = new URL('./lua/', import.meta.url);
const claimFill = luaScriptFile(lua, 'claimFill-3.lua');
const storeEntry = luaScriptFile(lua, 'storeEntry-4.lua');
const releaseFill = luaScriptFile(lua, 'releaseFill-1.lua');
const invalidateIndexes = luaScriptFile(lua, 'invalidate-2.lua');

const ENTRY_KEYS_MAX = 10_000;

const text = (reply: unknown): string => (Buffer.isBuffer(reply) ? reply.toString() : String(reply));

/** `local`: the in-process tier this store reads through and peeks into (it closes with the store). */
export function redisCacheStore(client: Redis, prefix: string, local: LocalTier | null = null): CacheStore {
  const keysByNamespace = new Map<string, NamespaceKeys>();
  const keysOf = (namespace: string): NamespaceKeys => {
    let keys = keysByNamespace.get(namespace);
    if (keys === undefined) keysByNamespace.set(namespace, (keys = namespaceKeys(prefix, namespace)));
    return keys;
  };

  // Lookups of one key made before node-redis writes its command batch (it flushes on setImmediate) share one
  // GET: the command reaches Redis after every joiner arrived, so each still reads what was there when it asked.
  const unsent = new Map<string, Promise<Buffer | null>>();

  // Entry keys kept per request key: a local hit then builds and hashes no new string (requestKey hands out the
  // same id strings). Bounded like requestKey's own memo: cleared when full.
  const entryKeys = new Map<string, Map<string, string>>();
  const entryKeyOf = (ref: EntryRef): string => {
    let byId = entryKeys.get(ref.namespace);
    if (byId === undefined) entryKeys.set(ref.namespace, (byId = new Map()));
    let key = byId.get(ref.id);
    if (key === undefined) {
      if (byId.size >= ENTRY_KEYS_MAX) byId.clear();
      byId.set(ref.id, (key = keysOf(ref.namespace).entry(ref.id)));
    }
    return key;
  };
  const getFromClient = (key: string): Promise<Buffer | null> =>
    client.sendCommand(['GET', key], BINARY_REPLIES).then((reply) => (Buffer.isBuffer(reply) ? reply : null));

  async function invalidateIn(namespace: string, tags: readonly string[] | undefined): Promise<number> {
    const keys = keysOf(namespace);
    const indexes = tags !== undefined && tags.length > 0 ? tags.map((t) => keys.tag(t)) : [keys.all];
    return Number(await invalidateIndexes.run(client, [keys.epoch, ...indexes], []));
  }

  return {
    kind: 'redis',

    get(ref) {
      const key = entryKeyOf(ref);
      let pending = unsent.get(key);
      if (pending === undefined) {
        // Through the local tier while it serves, so the key is tracked; a tracking connection that just
        // dropped is not a store failure: the main connection answers.
        pending = local !== null && local.serving ? local.read(key).catch(() => getFromClient(key)) : getFromClient(key);
        unsent.set(key, pending);
        setImmediate(() => unsent.delete(key));
      }
      return pending;
    },

    async claim(ref, token, lockTtlMs, now, tags): Promise<FillClaim> {
      const keys = keysOf(ref.namespace);
      const registered = tags.map((tag) => client.sAdd(tagNamespacesKey(prefix, tag), ref.namespace));
      const claimed = claimFill.run(client, [keys.entry(ref.id), keys.lock(ref.id), keys.epoch], [token, lockTtlMs, now], 'binary');
      const [reply] = (await Promise.all([claimed, ...registered])) as [unknown[], ...unknown[]];
      const entry = reply[2];
      return { locked: Number(reply[0]) === 1, epoch: text(reply[1]), entry: Buffer.isBuffer(entry) ? entry : null };
    },

    async put(ref, params) {
      const keys = keysOf(ref.namespace);
      const indexes = [keys.all, ...params.tags.map((t) => keys.tag(t))];
      const stored = await storeEntry.run(
        client,
        [keys.entry(ref.id), keys.lock(ref.id), keys.epoch, ...indexes],
        [params.value, params.lifetimeMs, params.epoch, params.token, params.now],
      );
      return Number(stored) === 1;
    },

    async release(ref, token) {
      await releaseFill.run(client, [keysOf(ref.namespace).lock(ref.id)], [token]);
    },

    async ping() {
      await client.ping();
    },

    peek(ref) {
      return local === null ? null : local.lookup(entryKeyOf(ref));
    },

    localState() {
      return local === null ? null : { serving: local.serving, entries: local.size, bytes: local.bytes, suspensions: local.suspensions };
    },

    async close() {
      await local?.close();
    },

    async invalidate(spec: InvalidateSpec) {
      const { tags, namespace } = spec;
      if (namespace !== undefined) return invalidateIn(namespace, tags);
      if (tags === undefined || tags.length === 0) throw new TypeError('invalidate needs tags or a namespace');
      // One SMEMBERS per tag (never a cross-slot SUNION), then one script per namespace, each in its own slot.
      const lists = await Promise.all(tags.map((tag) => client.sMembers(tagNamespacesKey(prefix, tag))));
      const namespaces = new Set(lists.flat().map(String));
      const counts = await Promise.all([...namespaces].map((ns) => invalidateIn(ns, tags)));
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}
