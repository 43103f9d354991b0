// Dependencies, FastAPI's `Depends`: typed functions resolved per request before the handler.
import type { RequestContext } from './types.ts';

/** An OpenAPI security scheme a dependency enforces; `id` is its key in components.securitySchemes. */
export interface SecurityRequirement {
  id: string;
  scheme:
    | { type: 'apiKey'; in: 'header' | 'query' | 'cookie'; name: string; description?: string }
    | { type: 'http'; scheme: 'bearer' | 'basic'; bearerFormat?: string; description?: string };
}

// Methods (not function properties) so that a Dependency<Specific> is usable where a Dependency<unknown> is expected.
export interface Dependency<T> {
  readonly name: string;
  /** Throw an HttpError (401, 403, ...) to reject the request. */
  resolve(ctx: RequestContext): T | Promise<T>;
  readonly security?: SecurityRequirement;
  /** A stable identity of the caller; the core sets `ctx.principal` from it once the dependency resolved. */
  principal?(value: T): string;
}

export type DependencyValues<D> = D extends Record<string, Dependency<unknown>>
  ? { [K in keyof D]: D[K] extends Dependency<infer V> ? V : never }
  : {};

export function defineDependency<T>(dependency: Dependency<T>): Dependency<T> {
  return dependency;
}
