// Routers collect route declarations and compose, like FastAPI's APIRouter / include_router: a prefix, tags
// and dependencies added at include time apply to every route below, at any depth.
import { SkiffStartupError } from '../errors.ts';
import type { Dependency } from './dependency.ts';
import type { Handler, Interceptor, Method, RouteInfo, RouteShape, RouteSpec } from './types.ts';

/** Dependencies by the name their result gets in `ctx.deps`. */
export type DependencyMap = Record<string, Dependency<unknown>>;

export interface RouterOptions<D extends DependencyMap = DependencyMap> {
  prefix?: string;
  tags?: string[];
  /** Run before every route of this router (guards such as an API key check); results land in ctx.deps by name. */
  dependencies?: D;
  use?: Interceptor[];
}

export interface DeclaredRoute extends RouteInfo {
  readonly handler: Handler<RouteShape>;
  /** [name in ctx.deps, dependency], router-level first, then the route's own (`spec.deps`). */
  readonly namedDependencies: readonly (readonly [string, Dependency<unknown>])[];
}

interface Scope {
  prefix: string;
  tags: string[];
  dependencies: (readonly [string, Dependency<unknown>])[];
  use: Interceptor[];
}

/** What an including router needs of the one it includes, whatever that one's dependency types. */
interface Inclusion {
  router: Pick<Router, 'seal' | 'declaredRoutes'>;
  options: RouterOptions;
}

function joinPath(prefix: string, path: string): string {
  if (prefix === '' || prefix === '/') return path;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === '/' ? p : p + path;
}

/**
 * `D`: the router's own dependencies, typed in `ctx.deps` of the handlers declared on it. Dependencies added at
 * `include` time still run and fill `ctx.deps`, but the handlers, declared before, cannot know their types.
 */
export class Router<D extends DependencyMap = {}> {
  private readonly own: { method: Method; path: string; spec: RouteSpec; handler: Handler<RouteShape> }[] = [];
  private readonly included: Inclusion[] = [];
  /** Set once an app has compiled its routes: later declarations would silently never be served. */
  private sealed = false;

  constructor(readonly options: RouterOptions<D> = {}) {}

  get<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    return this.add('GET', path, spec, handler);
  }
  post<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    return this.add('POST', path, spec, handler);
  }
  put<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    return this.add('PUT', path, spec, handler);
  }
  patch<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    return this.add('PATCH', path, spec, handler);
  }
  delete<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    return this.add('DELETE', path, spec, handler);
  }

  add<S extends RouteShape>(method: Method, path: string, spec: RouteSpec<S>, handler: Handler<S, D>): this {
    if (this.sealed) throw new SkiffStartupError('SKIFF_ROUTER_SEALED', `${method} ${path}: routes cannot be added after the app compiled its routes`);
    this.own.push({ method, path, spec: spec as RouteSpec, handler: handler as unknown as Handler<RouteShape> });
    return this;
  }

  /** Mounts another router; its routes get `options.prefix`, `tags`, `dependencies` and `use` on top of its own. */
  include<R extends DependencyMap>(router: Router<R>, options: RouterOptions = {}): this {
    if (this.sealed) throw new SkiffStartupError('SKIFF_ROUTER_SEALED', 'routers cannot be included after the app compiled its routes');
    if ((router as unknown) === this) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', 'a router cannot include itself');
    this.included.push({ router, options });
    return this;
  }

  /** Refuses further routes and inclusions here and in every router below: the app has compiled them. */
  seal(): void {
    this.sealed = true;
    for (const { router } of this.included) router.seal();
  }

  /** Every route below this router, with prefixes, tags, dependencies and interceptors resolved. */
  declaredRoutes(outer: Scope = { prefix: '', tags: [], dependencies: [], use: [] }): DeclaredRoute[] {
    const scope = merge(outer, this.options);
    const routes: DeclaredRoute[] = this.own.map((r) => {
      const namedDependencies = [...scope.dependencies, ...Object.entries(r.spec.deps ?? {})];
      return {
        method: r.method,
        path: joinPath(scope.prefix, r.path),
        spec: r.spec,
        handler: r.handler,
        tags: unique([...scope.tags, ...(r.spec.tags ?? [])]),
        dependencies: unique(namedDependencies.map(([, d]) => d)),
        namedDependencies,
        interceptors: [...scope.use, ...(r.spec.use ?? [])],
      };
    });
    for (const { router, options } of this.included) routes.push(...router.declaredRoutes(merge(scope, options)));
    return routes;
  }
}

function merge(outer: Scope, inner: RouterOptions): Scope {
  return {
    prefix: joinPath(outer.prefix, inner.prefix ?? ''),
    tags: [...outer.tags, ...(inner.tags ?? [])],
    dependencies: [...outer.dependencies, ...Object.entries(inner.dependencies ?? {})],
    use: [...outer.use, ...(inner.use ?? [])],
  };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

export function createRouter<D extends DependencyMap = {}>(options: RouterOptions<D> = {}): Router<D> {
  return new Router(options);
}
