import { Type } from '@sinclair/typebox';

export const ItemParams = Type.Object({ id: Type.Integer() });
export const Item = Type.Object({ id: Type.Integer(), name: Type.String(), price: Type.Number(), in_stock: Type.Boolean() });
