// The path tree: static segments beat parameters beat a trailing wildcard, with backtracking, so
// /items/new wins over /items/{id} and /items/{id}/tags still matches when no static branch does.
// Fully static paths are also kept in one Map: most requests are answered by a single lookup.
import { SkiffStartupError } from '../errors.ts';

/** The routes of one path, by method, plus the precomputed `Allow` header value. */
export class MethodTable<T> {
  readonly byMethod: Record<string, T> = Object.create(null);
  allow = '';
  constructor(readonly template: string) {}
}

interface Segment {
  kind: 'static' | 'param' | 'wildcard';
  value: string;
}

class Node<T> {
  statics: Map<string, Node<T>> | null = null;
  param: Node<T> | null = null;
  /** The name and the route that introduced this node's parameter child, to report conflicts. */
  paramName = '';
  paramOwner = '';
  wildcard: MethodTable<T> | null = null;
  table: MethodTable<T> | null = null;
}

export interface Found<T> {
  readonly table: MethodTable<T>;
  /** Raw (still percent-encoded) parameter values in template order. */
  readonly params: readonly string[];
}

const NO_PARAMS: readonly string[] = Object.freeze([]);

export function parseTemplate(template: string): Segment[] {
  if (!template.startsWith('/')) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', `route path must start with '/': ${template}`);
  if (template === '/') return [];
  const parts = template.slice(1).split('/');
  return parts.map((part, i) => {
    if (part === '*') {
      if (i !== parts.length - 1) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', `'*' must be the last segment: ${template}`);
      return { kind: 'wildcard', value: '*' };
    }
    const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
    if (param) return { kind: 'param', value: param[1] };
    if (part === '' || /[{}*]/.test(part)) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', `invalid path segment '${part}' in ${template}`);
    return { kind: 'static', value: part };
  });
}

export class RouteTree<T> {
  private readonly root = new Node<T>();
  /** Fully static paths, each with its one answer to find(): a hit allocates nothing. */
  private readonly staticPaths = new Map<string, Found<T>>();

  /** Adds a route; `label` (e.g. "GET /v1/items/{id}") names it in conflict errors. */
  add(template: string, method: string, value: T, label: string): void {
    const segments = parseTemplate(template);
    let node = this.root;
    let table: MethodTable<T> | undefined;
    for (const seg of segments) {
      if (seg.kind === 'static') {
        node.statics ??= new Map();
        let child = node.statics.get(seg.value);
        if (!child) node.statics.set(seg.value, (child = new Node()));
        node = child;
      } else if (seg.kind === 'param') {
        if (node.param && node.paramName !== seg.value) {
          throw new SkiffStartupError('SKIFF_ROUTE_CONFLICT', `${label} names a parameter {${seg.value}} where ${node.paramOwner} has {${node.paramName}}`);
        }
        if (!node.param) {
          node.param = new Node();
          node.paramName = seg.value;
          node.paramOwner = label;
        }
        node = node.param;
      } else {
        table = node.wildcard ??= new MethodTable(template);
      }
    }
    table ??= node.table ??= new MethodTable(template);
    const existing = table.byMethod[method] as (T & { label?: string }) | undefined;
    if (existing !== undefined) throw new SkiffStartupError('SKIFF_ROUTE_CONFLICT', `${label} is declared twice (${describe(existing)} and ${label})`);
    table.byMethod[method] = value;
    const methods = Object.keys(table.byMethod);
    if (methods.includes('GET')) methods.push('HEAD');
    methods.push('OPTIONS');
    table.allow = methods.join(', ');
    if (segments.every((s) => s.kind === 'static')) this.staticPaths.set(template, { table, params: NO_PARAMS });
  }

  /** `path` has no query string and no trailing slash (except '/'). */
  find(path: string): Found<T> | null {
    const found = this.staticPaths.get(path);
    if (found !== undefined) return found;
    const params: string[] = [];
    const table = walk(this.root, path, 1, params);
    return table === null ? null : { table, params };
  }
}

function describe(value: unknown): string {
  const label = (value as { label?: unknown }).label;
  return typeof label === 'string' ? label : 'an earlier route';
}

function walk<T>(node: Node<T>, path: string, start: number, params: string[]): MethodTable<T> | null {
  if (start >= path.length) return node.table ?? (node.wildcard !== null ? (params.push(''), node.wildcard) : null);
  let end = path.indexOf('/', start);
  if (end === -1) end = path.length;
  const segment = path.slice(start, end);
  if (node.statics !== null) {
    const child = node.statics.get(segment);
    if (child !== undefined) {
      const found = walk(child, path, end + 1, params);
      if (found !== null) return found;
    }
  }
  if (node.param !== null && segment.length > 0) {
    params.push(segment);
    const found = walk(node.param, path, end + 1, params);
    if (found !== null) return found;
    params.pop();
  }
  if (node.wildcard !== null) {
    params.push(path.slice(start));
    return node.wildcard;
  }
  return null;
}
