// JSON serializers compiled once from a response schema. They write only the properties the schema declares,
// so an internal field on the handler's object never reaches the client, and they skip JSON.stringify's
// generic walk for the common shapes (objects with known properties, arrays, scalars).
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import './formats.ts';

export type Serializer = (value: unknown) => string;
type Json = Record<string, unknown>;

const stringify: Serializer = (v) => JSON.stringify(v) ?? 'null';
const number: Serializer = (v) => (typeof v === 'number' && Number.isFinite(v) ? '' + v : stringify(v));
const boolean: Serializer = (v) => (v === true ? 'true' : v === false ? 'false' : stringify(v));

function objectSerializer(schema: Json): Serializer {
  const props = Object.entries((schema.properties ?? {}) as Record<string, Json>);
  const required = new Set((schema.required ?? []) as string[]);
  const fns = props.map(([, s]) => compileSerializer(s as TSchema));
  // Generated once per schema: straight-line property reads keep V8's inline caches monomorphic.
  let body = 'if (v === null || typeof v !== "object") return stringify(v);\nlet s = "{", c = false, x;\n';
  props.forEach(([key], i) => {
    const k = JSON.stringify(key);
    body += `x = v[${k}];\n`;
    const emit = `s += (c ? ${JSON.stringify(',' + k + ':')} : ${JSON.stringify(k + ':')}) + f[${i}](x); c = true;\n`;
    // An absent required property is written as null; outside production the response check reports it.
    body += required.has(key) ? `if (x === undefined) x = null;\n${emit}` : `if (x !== undefined) { ${emit}}\n`;
  });
  body += 'return s + "}";';
  return new Function('f', 'stringify', `return function serializeObject(v) {\n${body}\n}`)(fns, stringify) as Serializer;
}

function arraySerializer(schema: Json): Serializer {
  const item = compileSerializer((schema.items ?? {}) as TSchema);
  return (v) => {
    if (!Array.isArray(v)) return stringify(v);
    if (v.length === 0) return '[]';
    let s = '[' + item(v[0]);
    for (let i = 1; i < v.length; i++) s += ',' + item(v[i]);
    return s + ']';
  };
}

function unionSerializer(members: Json[]): Serializer {
  // The first member the value satisfies decides the shape, so extra properties are dropped here too.
  const arms = members.map((m) => ({ check: TypeCompiler.Compile(m as TSchema), write: compileSerializer(m as TSchema) }));
  return (v) => {
    if (v === null) return 'null';
    for (const arm of arms) if (arm.check.Check(v)) return arm.write(v);
    return stringify(v);
  };
}

export function compileSerializer(schema: TSchema): Serializer {
  const s = schema as Json;
  const members = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (members) return unionSerializer(members);
  switch (s.type) {
    case 'object':
      // A schema that allows typed extra properties (a record) cannot be filtered by name.
      return s.properties && (s.additionalProperties === undefined || typeof s.additionalProperties === 'boolean') ? objectSerializer(s) : stringify;
    case 'array':
      return Array.isArray(s.items) ? stringify : arraySerializer(s);
    case 'integer':
    case 'number':
      return number;
    case 'boolean':
      return boolean;
    default:
      return stringify;
  }
}
