// Turns TypeBox's value errors into FastAPI-style field errors: { loc, msg, type }.
import type { ValueError } from '@sinclair/typebox/errors';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { FieldError } from '../errors.ts';

/** At most this many field errors per response: a huge bad body must not produce a huge answer. */
const MAX_ERRORS = 20;

const typeNames = new Map<number, string>();
for (const [name, value] of Object.entries(ValueErrorType)) {
  if (typeof value === 'number') typeNames.set(value, name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? '' : '_') + c.toLowerCase()));
}
typeNames.set(ValueErrorType.ObjectRequiredProperty, 'missing');

function pointerToLoc(source: string, pointer: string): (string | number)[] {
  const loc: (string | number)[] = [source];
  if (pointer === '') return loc;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    loc.push(/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part);
  }
  return loc;
}

/** The message of one error: a choice among constants names the allowed values, not just "union". */
function messageOf(e: ValueError): string {
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'Field required';
  const members = (e.schema.anyOf ?? e.schema.oneOf) as { const?: unknown }[] | undefined;
  if (e.type === ValueErrorType.Union && members !== undefined && members.every((m) => m.const !== undefined)) {
    return `Expected one of: ${members.map((m) => JSON.stringify(m.const)).join(', ')}`;
  }
  return e.message;
}

export function toFieldErrors(source: string, errors: Iterable<ValueError>): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  // A missing field also fails its own type check: one "missing" says it all for that loc.
  const missing = new Set<string>();
  for (const e of errors) {
    const loc = pointerToLoc(source, e.path);
    const type = typeNames.get(e.type) ?? 'invalid';
    const at = loc.join('\0');
    if (missing.has(at)) continue;
    if (e.type === ValueErrorType.ObjectRequiredProperty) missing.add(at);
    const key = at + '\0' + type;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ loc, msg: messageOf(e), type });
    if (out.length === MAX_ERRORS) break;
  }
  if (out.length === 0) out.push({ loc: [source], msg: 'Invalid value', type: 'invalid' });
  return out;
}
