// JSON serializers compiled once from a response schema. They write only what the schema declares, so an
// internal field on the handler's object never reaches the client, and they skip JSON.stringify's generic walk
// for the common shapes (objects with known properties, arrays, scalars). A value the schema cannot filter
// (an object where a scalar is declared, a value no union member accepts) throws: the request is answered 500
// and logged, never with the value as it is.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import './formats.ts';

export type Serializer = (value: unknown) => string;
type Json = Record<string, unknown>;

/** Thrown while serializing a response whose value the schema cannot filter. */
export class UnfilterableResponseError extends Error {
  override readonly name = 'UnfilterableResponseError';
}

const stringify: Serializer = (v) => JSON.stringify(v) ?? 'null';
/** Where the schema declares a scalar: an object there would go out with every field it has. */
const scalar: Serializer = (v) => {
  if (v !== null && typeof v === 'object') throw new UnfilterableResponseError('an object or array where the response schema declares a scalar');
  return stringify(v);
};
/** Strings this short are scanned and quoted as they are unless a character needs escaping (then, and for longer
 *  ones, JSON.stringify): the call into JSON.stringify costs more than the scan of a short string. */
const SHORT_STRING = 42;
const string: Serializer = (v) => {
  if (typeof v !== 'string') return scalar(v);
  if (v.length >= SHORT_STRING) return JSON.stringify(v);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    // Control characters, '"', '\\', and surrogates (a lone one is written as an escape).
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(v);
  }
  return '"' + v + '"';
};
const number: Serializer = (v) => (typeof v === 'number' && Number.isFinite(v) ? '' + v : scalar(v));
const boolean: Serializer = (v) => (v === true ? 'true' : v === false ? 'false' : scalar(v));
const SCALAR_TYPES = new Set(['string', 'null', 'integer', 'number', 'boolean']);

/** Typed properties beyond the declared ones (a record, `additionalProperties: T`): keys matching `pattern`. */
interface Extra {
  pattern: RegExp | null;
  write: Serializer;
}

function extrasOf(schema: Json): Extra[] {
  const extras: Extra[] = Object.entries((schema.patternProperties ?? {}) as Record<string, TSchema>)
    .map(([pattern, s]) => ({ pattern: new RegExp(pattern, 'u'), write: compileSerializer(s) }));
  const additional = schema.additionalProperties;
  if (additional !== undefined && typeof additional !== 'boolean') extras.push({ pattern: null, write: compileSerializer(additional as TSchema) });
  return extras;
}

function objectSerializer(schema: Json): Serializer {
  const props = Object.entries((schema.properties ?? {}) as Record<string, Json>);
  const required = new Set((schema.required ?? []) as string[]);
  const fns = props.map(([, s]) => compileSerializer(s as TSchema));
  const extras = extrasOf(schema);
  // Generated once per schema: straight-line property reads keep V8's inline caches monomorphic.
  let body = 'if (v === null || typeof v !== "object") return scalar(v);\nlet s = "{", c = false, x;\n';
  props.forEach(([key], i) => {
    const k = JSON.stringify(key);
    body += `x = v[${k}];\n`;
    const emit = `s += (c ? ${JSON.stringify(',' + k + ':')} : ${JSON.stringify(k + ':')}) + f[${i}](x); c = true;\n`;
    // An absent required property is written as null; outside production the response check reports it.
    body += required.has(key) ? `if (x === undefined) x = null;\n${emit}` : `if (x !== undefined) { ${emit}}\n`;
  });
  if (extras.length > 0) body += 'if (!Array.isArray(v)) s = writeExtras(v, s, c);\n';
  body += 'return s + "}";';
  const declared = new Set(props.map(([key]) => key));
  // Own keys only: an inherited enumerable property was never the handler's answer.
  const writeExtras = (v: Json, s: string, c: boolean): string => {
    for (const key of Object.keys(v)) {
      if (declared.has(key) || v[key] === undefined) continue;
      const extra = extras.find((e) => e.pattern === null || e.pattern.test(key));
      if (extra === undefined) continue;
      s += (c ? ',' : '') + JSON.stringify(key) + ':' + extra.write(v[key]);
      c = true;
    }
    return s;
  };
  return new Function('f', 'scalar', 'writeExtras', `return function serializeObject(v) {\n${body}\n}`)(fns, scalar, writeExtras) as Serializer;
}

function arraySerializer(schema: Json): Serializer {
  const item = compileSerializer((schema.items ?? {}) as TSchema);
  return (v) => {
    if (!Array.isArray(v)) return scalar(v);
    if (v.length === 0) return '[]';
    let s = '[' + item(v[0]);
    for (let i = 1; i < v.length; i++) s += ',' + item(v[i]);
    return s + ']';
  };
}

/** A tuple: each position through its own schema; positions past the declared ones are not written. */
function tupleSerializer(items: Json[]): Serializer {
  const fns = items.map((s) => compileSerializer(s as TSchema));
  return (v) => {
    if (!Array.isArray(v)) return scalar(v);
    const parts: string[] = [];
    for (let i = 0; i < fns.length && i < v.length; i++) parts.push(fns[i](v[i]));
    return '[' + parts.join(',') + ']';
  };
}

function unionSerializer(members: Json[]): Serializer {
  // The first member the value satisfies decides the shape, so extra properties are dropped here too.
  const arms = members.map((m) => ({ check: TypeCompiler.Compile(m as TSchema), write: compileSerializer(m as TSchema) }));
  return (v) => {
    if (v === null) return 'null';
    for (const arm of arms) if (arm.check.Check(v)) return arm.write(v);
    throw new UnfilterableResponseError('a response value matches none of the members of its union schema');
  };
}

/**
 * allOf (Type.Intersect) as the one object it describes: every member's properties, a property declared by
 * several members written through all their schemas. Members that are not objects cannot be merged by name.
 */
function intersectionSchema(schema: Json, members: Json[]): Json {
  const flat = members.flatMap((m) => (Array.isArray(m.allOf) ? (m.allOf as Json[]) : [m]));
  if (flat.every((m) => typeof m.type === 'string' && SCALAR_TYPES.has(m.type))) return flat[0];
  if (!flat.every((m) => m.type === 'object')) {
    throw new Error('a response schema intersects something other than objects (allOf); its undeclared fields could not be filtered: declare it as one Type.Object');
  }
  const properties: Record<string, Json> = {};
  const required = new Set<string>();
  const patternProperties: Record<string, Json> = {};
  let additionalProperties: unknown;
  for (const m of flat) {
    for (const [key, s] of Object.entries((m.properties ?? {}) as Record<string, Json>)) {
      const known = properties[key];
      properties[key] = known === undefined ? s : { allOf: [known, s] };
    }
    for (const key of (m.required ?? []) as string[]) required.add(key);
    Object.assign(patternProperties, m.patternProperties);
    if (m.additionalProperties !== undefined && typeof m.additionalProperties !== 'boolean') additionalProperties = m.additionalProperties;
  }
  return {
    type: 'object',
    properties,
    required: [...required],
    ...(Object.keys(patternProperties).length > 0 ? { patternProperties } : {}),
    ...(additionalProperties !== undefined ? { additionalProperties } : typeof schema.additionalProperties === 'object' ? { additionalProperties: schema.additionalProperties } : {}),
  };
}

export function compileSerializer(schema: TSchema): Serializer {
  const s = schema as Json;
  const members = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (members) return unionSerializer(members);
  if (Array.isArray(s.allOf)) return compileSerializer(intersectionSchema(s, s.allOf as Json[]) as TSchema);
  switch (s.type) {
    case 'object':
      return objectSerializer(s);
    case 'array':
      return Array.isArray(s.items) ? tupleSerializer(s.items as Json[]) : arraySerializer(s);
    case 'integer':
    case 'number':
      return number;
    case 'boolean':
      return boolean;
    case 'string':
      return string;
    case 'null':
      return scalar;
    default:
      // No type (Type.Unknown, Type.Any): the schema declares any value, so all of it is the answer.
      return stringify;
  }
}
