// TypeBox schemas → OpenAPI 3.1 schema objects. A schema carrying an `$id` becomes one named entry of
// components.schemas and is referenced with `$ref` wherever it appears, so the document names each shape once.
import type { TSchema } from '@sinclair/typebox';
import { SkiffStartupError } from '../errors.ts';

export type Json = Record<string, unknown>;

const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/;
const REF_PREFIX = '#/components/schemas/';

export class SchemaComponents {
  private readonly named = new Map<string, { source: TSchema; json: Json }>();

  /** The OpenAPI form of a schema; its `$id` parts are registered as components and replaced by `$ref`s. */
  reference(schema: TSchema): Json {
    return this.convert(schema, false) as Json;
  }

  /** components.schemas, sorted by name. */
  schemas(): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (const name of [...this.named.keys()].sort()) out[name] = this.named.get(name)!.json;
    return out;
  }

  private register(schema: TSchema, id: string): string {
    if (!COMPONENT_NAME.test(id)) throw new SkiffStartupError('SKIFF_OPENAPI_INVALID_SCHEMA', `schema $id "${id}" cannot name an OpenAPI component: use letters, digits, '.', '_' or '-'`);
    const known = this.named.get(id);
    if (known === undefined) {
      // Reserve the name first: a schema that contains itself (through $ref) must not recurse forever.
      const entry = { source: schema, json: {} as Json };
      this.named.set(id, entry);
      entry.json = this.convert(schema, true) as Json;
    } else if (known.source !== schema && JSON.stringify(known.json) !== JSON.stringify(this.convert(schema, true))) {
      throw new SkiffStartupError('SKIFF_OPENAPI_DUPLICATE_SCHEMA_ID', `two different schemas share the $id "${id}": rename one of them`);
    }
    return REF_PREFIX + id;
  }

  private convert(schema: unknown, isComponentRoot: boolean): unknown {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema; // `true`, `false`
    const node = schema as Json;
    if (!isComponentRoot && typeof node.$id === 'string') return { $ref: this.register(node as TSchema, node.$id) };
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$id') continue;
      if (key === 'nullable') {
        // TypeBox's checks ignore OpenAPI 3.0's keyword, so the server would refuse the null it promises.
        throw new SkiffStartupError('SKIFF_OPENAPI_INVALID_SCHEMA', 'a schema uses OpenAPI 3.0 `nullable`, which validation ignores: write Type.Union([T, Type.Null()])');
      }
      if (SCHEMA_MAPS.has(key)) {
        out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, this.convert(v, false)]));
      } else if (SCHEMA_LISTS.has(key) || (SUBSCHEMAS.has(key) && Array.isArray(value))) {
        out[key] = (value as unknown[]).map((v) => this.convert(v, false));
      } else if (SUBSCHEMAS.has(key)) {
        out[key] = this.convert(value, false);
      } else out[key] = value; // annotations and data (default, examples, enum, const) are copied as they are
    }
    return out;
  }
}

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['anyOf', 'allOf', 'oneOf', 'prefixItems']);
const SUBSCHEMAS = new Set([
  'items', 'additionalItems', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames',
  'unevaluatedItems', 'unevaluatedProperties',
]);
