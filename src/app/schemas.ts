// The example service's public shapes. Schemas with an `$id` become named components in the OpenAPI document.
import { Type, type Static } from '@sinclair/typebox';

export const ItemId = Type.String({ pattern: '^[0-9a-z]{16,32}$', description: 'Server-generated, time-ordered id.', examples: ['0mi1x2y3z4a5b6c7d8'] });

const name = Type.String({ minLength: 1, maxLength: 200, description: 'Display name.' });
const description = Type.String({ maxLength: 5000, description: 'Free text.' });
const price = Type.Number({ minimum: 0, description: 'Price in the shop currency; never negative.' });
const tags = Type.Array(Type.String({ minLength: 1, maxLength: 50, pattern: '^[^,\\s]+$' }), { maxItems: 20, uniqueItems: true, description: 'At most 20 tags.' });

export const Item = Type.Object(
  {
    id: ItemId,
    name,
    description: Type.Optional(description),
    price,
    tags,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Item', description: 'A catalogue item.' },
);
export type Item = Static<typeof Item>;

export const ItemCreate = Type.Object(
  { name, description: Type.Optional(description), price, tags: Type.Optional(tags) },
  { $id: 'ItemCreate', additionalProperties: false },
);
export type ItemCreate = Static<typeof ItemCreate>;

export const ItemPatch = Type.Object(
  { name: Type.Optional(name), description: Type.Optional(description), price: Type.Optional(price), tags: Type.Optional(tags) },
  { $id: 'ItemPatch', additionalProperties: false, minProperties: 1 },
);
export type ItemPatch = Static<typeof ItemPatch>;

export const ItemPage = Type.Object(
  {
    items: Type.Array(Item),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
  },
  { $id: 'ItemPage' },
);
export type ItemPage = Static<typeof ItemPage>;
