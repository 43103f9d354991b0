// The catalogue in Redis: one hash per item plus sorted-set indexes for listing (all, and per tag).
// Every call is bounded by the command timeout, so a hung Redis turns into a 503, never a hung request.
import { randomBytes } from 'node:crypto';
import { luaScriptFile, withTimeout, type Redis } from '../redis/index.ts';
import { itemKeys } from './keys.ts';
import type { Item, ItemCreate, ItemPage, ItemPatch } from './schemas.ts';

const lua = new URL('./lua/', import.meta.url);
const patchItem = luaScriptFile(lua, 'patchItem-1.lua');
const deleteItem = luaScriptFile(lua, 'deleteItem-2.lua');
const listItems = luaScriptFile(lua, 'listItems-1.lua');

/** Time-ordered ids: listing by id is listing by creation time, and ids never collide across processes. */
export function newItemId(now = Date.now()): string {
  return now.toString(36).padStart(10, '0') + randomBytes(5).toString('hex');
}

function decode(fields: Record<string, string> | string[]): Item {
  const f: Record<string, string> = Array.isArray(fields) ? pairs(fields) : fields;
  const item: Item = {
    id: f.id,
    name: f.name,
    price: Number(f.price),
    tags: JSON.parse(f.tags ?? '[]') as string[],
    created_at: f.created_at,
    updated_at: f.updated_at,
  };
  if (f.description !== undefined) item.description = f.description;
  return item;
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

export interface ItemStore {
  create(input: ItemCreate): Promise<Item>;
  get(id: string): Promise<Item | null>;
  patch(id: string, patch: ItemPatch): Promise<Item | null>;
  delete(id: string): Promise<boolean>;
  list(options: { tag?: string; limit: number; cursor?: string }): Promise<ItemPage>;
}

export function createItemStore(redis: Redis, prefix: string, timeoutMs: number): ItemStore {
  const keys = itemKeys(prefix);
  const bounded = <T>(p: Promise<T>) => withTimeout(p, timeoutMs);
  return {
    async create(input) {
      const now = new Date().toISOString();
      const item: Item = { id: newItemId(), name: input.name, price: input.price, tags: input.tags ?? [], created_at: now, updated_at: now };
      if (input.description !== undefined) item.description = input.description;
      const fields: Record<string, string> = { id: item.id, name: item.name, price: String(item.price), tags: JSON.stringify(item.tags), created_at: now, updated_at: now };
      if (item.description !== undefined) fields.description = item.description;
      const tx = redis.multi().hSet(keys.item(item.id), fields).zAdd(keys.all, { score: 0, value: item.id });
      for (const tag of item.tags) tx.zAdd(keys.tag(tag), { score: 0, value: item.id });
      await bounded(tx.exec());
      return item;
    },
    async get(id) {
      const fields = await bounded(redis.hGetAll(keys.item(id)));
      return Object.keys(fields).length === 0 ? null : decode(fields as Record<string, string>);
    },
    async patch(id, patch) {
      const args: string[] = [keys.tagPrefix, patch.tags ? JSON.stringify(patch.tags) : ''];
      if (patch.name !== undefined) args.push('name', patch.name);
      if (patch.description !== undefined) args.push('description', patch.description);
      if (patch.price !== undefined) args.push('price', String(patch.price));
      args.push('updated_at', new Date().toISOString());
      const fields = (await bounded(patchItem.run(redis, [keys.item(id)], args))) as string[] | null;
      return fields ? decode(fields) : null;
    },
    async delete(id) {
      return (await bounded(deleteItem.run(redis, [keys.item(id), keys.all], [keys.tagPrefix]))) === 1;
    },
    async list({ tag, limit, cursor }) {
      const index = tag === undefined ? keys.all : keys.tag(tag);
      const [more, ...rows] = (await bounded(listItems.run(redis, [index], [keys.itemPrefix, cursor ?? '', limit]))) as [number, ...string[][]];
      const items = rows.map(decode);
      return { items, next_cursor: more === 1 && items.length > 0 ? items[items.length - 1].id : null };
    },
  };
}
