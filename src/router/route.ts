// Compiles a declared route once, at start-up: input parsers, dependency list, and one response plan per
// declared status (content type, schema-filtered serializer, response check). Nothing here runs per request.
import type { TObject, TSchema } from '@sinclair/typebox';
import { PROBLEM_CONTENT_TYPE, ProblemSchema, SkiffStartupError, ValidationProblemSchema, type FieldError } from '../errors.ts';
import { compileCheck, compileJsonInput, compileSerializer, compileStringInput, type Serializer } from '../schema/index.ts';
import type { Dependency } from './dependency.ts';
import type { DeclaredRoute } from './router.ts';
import type { Handler, Interceptor, ResponseSpec, RouteInfo, RouteShape } from './types.ts';

export const JSON_CONTENT_TYPE = 'application/json';

export interface ResponsePlan {
  readonly status: number;
  readonly contentType: string;
  /** `{ 'content-type': contentType }`, built once. */
  readonly headers: Readonly<Record<string, string>>;
  /** null: the body is sent as given (non-JSON content types) or there is none. */
  readonly serialize: Serializer | null;
  /** Set only when response validation is on and the status has a JSON schema. */
  readonly check: ((value: unknown) => FieldError[] | null) | null;
  readonly empty: boolean;
}

export interface CompileOptions {
  bodyLimitBytes: number;
  jsonMaxDepth: number;
  responseValidation: boolean;
}

export class CompiledRoute {
  readonly info: RouteInfo;
  readonly label: string;
  readonly handler: Handler<RouteShape>;
  readonly paramNames: string[];
  readonly parseParams: ((raw: Record<string, unknown>) => unknown) | null;
  readonly parseQuery: ((raw: Record<string, unknown>) => unknown) | null;
  readonly parseHeaders: ((raw: Record<string, unknown>) => unknown) | null;
  readonly parseBody: ((value: unknown) => unknown) | null;
  readonly bodyLimit: number;
  readonly bodyMaxDepth: number;
  /** Each dependency once, router-level first, with the names its result gets in ctx.deps; null when none. */
  readonly deps: NamedDependency[] | null;
  readonly interceptors: Interceptor[] | null;
  readonly success: ResponsePlan;
  private readonly plans = new Map<number, ResponsePlan>();
  /** A security dependency guards it: its answers are per caller, so no cache downstream may keep them. */
  readonly noStore: boolean;
  /** Whether anything before the handler may wait: a body, a dependency or an interceptor. */
  readonly synchronous: boolean;

  constructor(route: DeclaredRoute, options: CompileOptions) {
    const { spec } = route;
    this.info = { method: route.method, path: route.path, spec, tags: route.tags, dependencies: route.dependencies, interceptors: route.interceptors };
    this.label = `${route.method} ${route.path}`;
    this.handler = route.handler;
    this.paramNames = [...route.path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
    if (route.path.endsWith('/*')) this.paramNames.push('*');
    const declared = Object.keys((spec.params?.properties ?? {}) as object);
    const missing = declared.filter((n) => !this.paramNames.includes(n));
    if (missing.length > 0) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', `${this.label}: params schema declares ${missing.join(', ')} which the path does not have`);
    this.parseParams = spec.params ? compileStringInput(spec.params as TObject, { source: 'path' }) : null;
    this.parseQuery = spec.query ? compileStringInput(spec.query as TObject, { source: 'query' }) : null;
    this.parseHeaders = spec.headers ? compileStringInput(spec.headers as TObject, { source: 'header', lowercaseKeys: true }) : null;
    this.parseBody = spec.body ? compileJsonInput(spec.body, 'body') : null;
    this.bodyLimit = spec.bodyLimit ?? options.bodyLimitBytes;
    this.bodyMaxDepth = spec.bodyMaxDepth ?? options.jsonMaxDepth;

    const deps = resolveOnce(route.namedDependencies, this.label);
    this.deps = deps.length > 0 ? deps : null;
    this.noStore = deps.some((d) => d.dependency.security !== undefined);
    this.interceptors = route.interceptors.length > 0 ? [...route.interceptors] : null;
    this.synchronous = this.parseBody === null && this.deps === null && this.interceptors === null;

    for (const [code, declaredResponse] of Object.entries(spec.response ?? {})) {
      const status = Number(code);
      this.plans.set(status, plan(status, declaredResponse as TSchema | ResponseSpec, options.responseValidation));
    }
    const firstSuccess = [...this.plans.keys()].sort((a, b) => a - b).find((s) => s >= 200 && s < 300);
    this.success = firstSuccess !== undefined ? this.plans.get(firstSuccess)! : untyped(200);
  }

  /** The plan for a status; undeclared statuses are sent as plain JSON, unchecked. */
  planFor(status: number): ResponsePlan {
    return this.plans.get(status) ?? untyped(status);
  }
}

/** A dependency resolved once per request; its result is stored under every name it was given. */
export interface NamedDependency {
  readonly dependency: Dependency<unknown>;
  readonly names: readonly string[];
}

/** One entry per dependency (a router and its route may both name it); one name must not mean two dependencies. */
function resolveOnce(named: DeclaredRoute['namedDependencies'], label: string): NamedDependency[] {
  const byDependency = new Map<Dependency<unknown>, string[]>();
  const byName = new Map<string, Dependency<unknown>>();
  for (const [name, dependency] of named) {
    const other = byName.get(name);
    if (other !== undefined && other !== dependency) {
      throw new SkiffStartupError('SKIFF_ROUTE_CONFLICT', `${label}: ctx.deps.${name} names two dependencies (${other.name} and ${dependency.name}): rename one`);
    }
    byName.set(name, dependency);
    const names = byDependency.get(dependency);
    if (names === undefined) byDependency.set(dependency, [name]);
    else if (!names.includes(name)) names.push(name);
  }
  return [...byDependency].map(([dependency, names]) => ({ dependency, names }));
}

function isResponseSpec(value: TSchema | ResponseSpec): value is ResponseSpec {
  // A TypeBox schema always carries its Kind symbol; a ResponseSpec is a plain object.
  return !Object.getOwnPropertySymbols(value).some((s) => s.description === 'TypeBox.Kind');
}

function plan(status: number, declared: TSchema | ResponseSpec, validate: boolean): ResponsePlan {
  const spec: ResponseSpec = isResponseSpec(declared) ? declared : { schema: declared };
  // A declared problem schema is sent the way a thrown HttpError is: as application/problem+json.
  const problemSchema = spec.schema === ProblemSchema || spec.schema === ValidationProblemSchema;
  const contentType = spec.contentType ?? (problemSchema ? PROBLEM_CONTENT_TYPE : JSON_CONTENT_TYPE);
  const json = contentType === JSON_CONTENT_TYPE || contentType.endsWith('+json');
  const schema = spec.schema;
  const empty = status === 204 || status === 304 || (schema === undefined && spec.contentType === undefined);
  return {
    status,
    contentType,
    headers: Object.freeze({ 'content-type': contentType }),
    serialize: empty ? null : json ? (schema ? compileSerializer(schema) : stringify) : null,
    check: validate && json && schema && !empty ? compileCheck(schema, 'response') : null,
    empty,
  };
}

const stringify: Serializer = (v) => JSON.stringify(v) ?? 'null';
const untypedPlans = new Map<number, ResponsePlan>();
function untyped(status: number): ResponsePlan {
  let p = untypedPlans.get(status);
  if (!p) untypedPlans.set(status, (p = { status, contentType: JSON_CONTENT_TYPE, headers: Object.freeze({ 'content-type': JSON_CONTENT_TYPE }), serialize: stringify, check: null, empty: status === 204 || status === 304 }));
  return p;
}
