// Input validators, compiled once per route: strings from the path, query, headers or environment are coerced
// to the schema's types, defaults applied, then checked by a TypeBox TypeCompiler check.
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { validationError } from '../errors.ts';
import { toFieldErrors } from './errors.ts';
import './formats.ts';

type Coerce = (value: unknown) => unknown;
type Json = Record<string, unknown>;

const INTEGER = /^-?\d+$/;
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const identity: Coerce = (v) => v;

function numberLike(s: Json): 'integer' | 'number' | null {
  if (s.type === 'integer') return 'integer';
  if (s.type === 'number' || typeof s.const === 'number') return 'number';
  return null;
}

function scalarCoercer(schema: Json): Coerce {
  const members = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  const variants = members ?? [schema];
  const wantsNumber = variants.some((m) => numberLike(m) !== null);
  const integerOnly = variants.every((m) => numberLike(m) !== 'number');
  const wantsBoolean = variants.some((m) => m.type === 'boolean' || typeof m.const === 'boolean');
  const wantsNull = variants.some((m) => m.type === 'null');
  if (!wantsNumber && !wantsBoolean && !wantsNull) return identity;
  const numeric = integerOnly ? INTEGER : NUMBER;
  return (v) => {
    if (typeof v !== 'string') return v;
    if (wantsNumber && numeric.test(v)) return Number(v);
    if (wantsBoolean) {
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
    }
    if (wantsNull && v === 'null') return null;
    return v;
  };
}

function propertyCoercer(schema: Json): Coerce {
  if (schema.type === 'array') {
    const item = scalarCoercer((schema.items ?? {}) as Json);
    return (v) => (Array.isArray(v) ? v.map(item) : [item(v)]);
  }
  const scalar = scalarCoercer(schema);
  // A repeated key where one value is expected: the last one wins, as in FastAPI.
  return (v) => scalar(Array.isArray(v) ? v[v.length - 1] : v);
}

interface Property {
  key: string;
  lookup: string;
  coerce: Coerce;
  fallback: (() => unknown) | null;
}

function defaultFactory(schema: Json): (() => unknown) | null {
  if (!('default' in schema)) return null;
  const value = schema.default;
  return value !== null && typeof value === 'object' ? () => structuredClone(value) : () => value;
}

export interface StringInputOptions {
  /** The first element of every error's `loc`, e.g. 'query'. */
  source: string;
  /** Look keys up in lower case (HTTP header names). */
  lowercaseKeys?: boolean;
}

/**
 * A parser for a flat record of strings (path params, query, headers, env). Only the schema's properties are
 * kept. Throws an HttpError 422 carrying field errors when the coerced record fails the schema.
 */
export function compileStringInput<T extends TObject>(schema: T, options: StringInputOptions): (raw: Record<string, unknown> | undefined) => Static<T> {
  const check = TypeCompiler.Compile(schema);
  const properties: Property[] = Object.entries(schema.properties as Record<string, Json>).map(([key, prop]) => ({
    key,
    lookup: options.lowercaseKeys ? key.toLowerCase() : key,
    coerce: propertyCoercer(prop),
    fallback: defaultFactory(prop),
  }));
  const source = options.source;
  return (raw) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < properties.length; i++) {
      const p = properties[i];
      const v = raw === undefined ? undefined : raw[p.lookup];
      if (v !== undefined) out[p.key] = p.coerce(v);
      else if (p.fallback !== null) out[p.key] = p.fallback();
    }
    if (check.Check(out)) return out as Static<T>;
    throw validationError(toFieldErrors(source, check.Errors(out)));
  };
}

function hasDefaults(schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object') return false;
  if (Array.isArray(schema)) return schema.some(hasDefaults);
  if ('default' in schema) return true;
  return Object.values(schema).some(hasDefaults);
}

/** A validator for a parsed JSON value (a request body, a job payload): defaults applied, then checked. */
export function compileJsonInput<T extends TSchema>(schema: T, source: string): (value: unknown) => Static<T> {
  const check = TypeCompiler.Compile(schema);
  const withDefaults = hasDefaults(schema);
  return (value) => {
    const v = withDefaults ? Value.Default(schema, value) : value;
    if (check.Check(v)) return v as Static<T>;
    throw validationError(toFieldErrors(source, check.Errors(v)));
  };
}
