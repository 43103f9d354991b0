// Public face of the schema toolkit: everything compiled once, at registration or start-up.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FieldError } from '../errors.ts';
import { toFieldErrors } from './errors.ts';

export { compileStringInput, compileJsonInput, type StringInputOptions } from './input.ts';
export { compileSerializer, type Serializer } from './serialize.ts';
export { toFieldErrors } from './errors.ts';
export { canonicalJson } from './canonical.ts';

/** A compiled check that reports field errors, or null when the value conforms. */
export function compileCheck(schema: TSchema, source: string): (value: unknown) => FieldError[] | null {
  const check = TypeCompiler.Compile(schema);
  return (value) => (check.Check(value) ? null : toFieldErrors(source, check.Errors(value)));
}
