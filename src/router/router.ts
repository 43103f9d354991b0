// Routers collect route declarations and compose, like FastAPI's APIRouter / include_router: a prefix, tags
// and dependencies added at include time apply to every route below, at any depth.
import type { Dependency } from './dependency.ts';
import type { Handler, Interceptor, Method, RouteInfo, RouteShape, RouteSpec } from './types.ts';

export interface RouterOptions {
  prefix?: string;
  tags?: string[];
  /** Run before every route of this router (guards such as an API key check); results land in ctx.deps by name. */
  dependencies?: Dependency<unknown>[];
  use?: Interceptor[];
}

export interface DeclaredRoute extends RouteInfo {
  readonly handler: Handler<RouteShape>;
}

interface Inclusion {
  router: Router;
  options: RouterOptions;
}

function joinPath(prefix: string, path: string): string {
  if (prefix === '' || prefix === '/') return path;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === '/' ? p : p + path;
}

export class Router {
  private readonly own: { method: Method; path: string; spec: RouteSpec; handler: Handler<RouteShape> }[] = [];
  private readonly included: Inclusion[] = [];
  /** Set once an app has compiled its routes: later declarations would silently never be served. */
  protected sealed = false;

  constructor(readonly options: RouterOptions = {}) {}

  get<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    return this.add('GET', path, spec, handler);
  }
  post<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    return this.add('POST', path, spec, handler);
  }
  put<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    return this.add('PUT', path, spec, handler);
  }
  patch<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    return this.add('PATCH', path, spec, handler);
  }
  delete<S extends RouteShape>(path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    return this.add('DELETE', path, spec, handler);
  }

  add<S extends RouteShape>(method: Method, path: string, spec: RouteSpec<S>, handler: Handler<S>): this {
    if (this.sealed) throw new Error(`${method} ${path}: routes cannot be added after the app has started`);
    this.own.push({ method, path, spec: spec as RouteSpec, handler: handler as unknown as Handler<RouteShape> });
    return this;
  }

  /** Mounts another router; its routes get `options.prefix`, `tags`, `dependencies` and `use` on top of its own. */
  include(router: Router, options: RouterOptions = {}): this {
    if (this.sealed) throw new Error('routers cannot be included after the app has started');
    if (router === this) throw new Error('a router cannot include itself');
    this.included.push({ router, options });
    return this;
  }

  /** Every route below this router, with prefixes, tags, dependencies and interceptors resolved. */
  declaredRoutes(outer: RouterOptions = {}): DeclaredRoute[] {
    const scope = merge(outer, this.options);
    const routes: DeclaredRoute[] = this.own.map((r) => ({
      method: r.method,
      path: joinPath(scope.prefix ?? '', r.path),
      spec: r.spec,
      handler: r.handler,
      tags: unique([...(scope.tags ?? []), ...(r.spec.tags ?? [])]),
      dependencies: [...(scope.dependencies ?? []), ...Object.values(r.spec.deps ?? {})],
      interceptors: [...(scope.use ?? []), ...(r.spec.use ?? [])],
    }));
    for (const { router, options } of this.included) routes.push(...router.declaredRoutes(merge(scope, options)));
    return routes;
  }
}

function merge(outer: RouterOptions, inner: RouterOptions): RouterOptions {
  return {
    prefix: joinPath(outer.prefix ?? '', inner.prefix ?? ''),
    tags: [...(outer.tags ?? []), ...(inner.tags ?? [])],
    dependencies: [...(outer.dependencies ?? []), ...(inner.dependencies ?? [])],
    use: [...(outer.use ?? []), ...(inner.use ?? [])],
  };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

export function createRouter(options: RouterOptions = {}): Router {
  return new Router(options);
}
