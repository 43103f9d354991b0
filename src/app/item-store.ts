// The catalogue in Redis: one hash per item plus sorted-set indexes for listing (all, and per tag).
// Every call is bounded by the caller's deadline (the request's ctx.deadline), so a hung Redis turns into a 503,
// never a hung request; writes are deadline-guarded scripts, so a write that answered 503 is never applied later.
import { randomBytes } from 'node:crypto';
import { Deadline } from '../deadline.ts';
import { guardedScriptFile, luaScriptFile, type Redis } from '../redis/index.ts';
import { itemKeys } from './keys.ts';
import type { Item, ItemCreate, ItemPage, ItemPatch } from './schemas.ts';

const lua = new URL('./lua/', import.meta.url);
const createItem = guardedScriptFile(lua, 'createItem-2.lua');
const patchItem = guardedScriptFile(lua, 'patchItem-1.lua');
const deleteItem = guardedScriptFile(lua, 'deleteItem-2.lua');
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

/** Every call waits on Redis within `deadline`; without one (jobs), within a deadline of its own. */
export interface ItemStore {
  /** `id`: the item's id (default a new one); creating an id again rewrites that item rather than adding one. */
  create(input: ItemCreate, deadline?: Deadline, id?: string): Promise<Item>;
  get(id: string, deadline?: Deadline): Promise<Item | null>;
  patch(id: string, patch: ItemPatch, deadline?: Deadline): Promise<Item | null>;
  delete(id: string, deadline?: Deadline): Promise<boolean>;
  list(options: { tag?: string; limit: number; cursor?: string }, deadline?: Deadline): Promise<ItemPage>;
}

/** `timeoutMs` bounds each call made without a deadline (outside a request, e.g. the export job). */
export function createItemStore(redis: Redis, prefix: string, timeoutMs: number): ItemStore {
  const keys = itemKeys(prefix);
  const own = (deadline: Deadline | undefined): Deadline => deadline ?? new Deadline(timeoutMs);
  return {
    async create(input, deadline, id = newItemId()) {
      const now = new Date().toISOString();
      const item: Item = { id, name: input.name, price: input.price, tags: input.tags ?? [], created_at: now, updated_at: now };
      if (input.description !== undefined) item.description = input.description;
      const tags = JSON.stringify(item.tags);
      const fields: string[] = ['id', item.id, 'name', item.name, 'price', String(item.price), 'tags', tags, 'created_at', now, 'updated_at', now];
      if (item.description !== undefined) fields.push('description', item.description);
      await createItem.run(redis, own(deadline), [keys.item(item.id), keys.all], [keys.tagPrefix, item.id, tags, ...fields]);
      return item;
    },
    async get(id, deadline) {
      const fields = await own(deadline).bound(redis.hGetAll(keys.item(id)));
      return Object.keys(fields).length === 0 ? null : decode(fields as Record<string, string>);
    },
    async patch(id, patch, deadline) {
      const args: string[] = [keys.tagPrefix, patch.tags ? JSON.stringify(patch.tags) : ''];
      if (patch.name !== undefined) args.push('name', patch.name);
      if (patch.description !== undefined) args.push('description', patch.description);
      if (patch.price !== undefined) args.push('price', String(patch.price));
      args.push('updated_at', new Date().toISOString());
      const fields = (await patchItem.run(redis, own(deadline), [keys.item(id)], args)) as string[] | null;
      return fields ? decode(fields) : null;
    },
    async delete(id, deadline) {
      return (await deleteItem.run(redis, own(deadline), [keys.item(id), keys.all], [keys.tagPrefix])) === 1;
    },
    async list({ tag, limit, cursor }, deadline) {
      const index = tag === undefined ? keys.all : keys.tag(tag);
      const [more, ...rows] = (await own(deadline).bound(listItems.run(redis, [index], [keys.itemPrefix, cursor ?? '', limit]))) as [number, ...string[][]];
      const items = rows.map(decode);
      return { items, next_cursor: more === 1 && items.length > 0 ? items[items.length - 1].id : null };
    },
  };
}
