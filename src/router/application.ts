// The application: the root router plus what is fixed at start-up — the compiled route tree and the
// listeners told about every response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SkiffStartupError, type HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createLogger } from '../log.ts';
import { RouteTree } from './segment-trie.ts';
import { CompiledRoute } from './route.ts';
import { Router, type DependencyMap, type RouterOptions } from './router.ts';
import type { ErrorHandler, NotFoundHandler, RouteInfo } from './types.ts';

export interface AppOptions<D extends DependencyMap = {}> extends RouterOptions<D> {
  log?: Logger;
  /** Largest JSON body in bytes unless a route says otherwise (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Deepest JSON nesting a body may reach unless a route says otherwise (default 64). */
  jsonMaxDepth?: number;
  /** Check every JSON response against its schema and answer 500 on a mismatch (default: on). */
  responseValidation?: boolean;
  /** Longest accepted path parameter, in characters, before decoding (default 100). */
  maxParamLength?: number;
  /** The most a request waits on Redis in total, across all its calls: `ctx.deadline` (default 1000 ms). */
  redisTimeoutMs?: number;
  /** The first error handler (more with `app.onError`). */
  onError?: ErrorHandler;
  /** Answers unmatched paths (see `app.notFound`). */
  notFound?: NotFoundHandler;
  /** Consulted first for every request, before routing or reading the body: an error is the answer (overload
   *  protection sheds load here); null lets the request in. */
  admit?: Admission;
}

export type Admission = (req: IncomingMessage, res: ServerResponse, path: string) => HttpError | null;

/** Told once per response, after it is written. */
export interface ResponseEvent {
  method: string;
  /** The route template, or null when no route matched. */
  route: string | null;
  status: number;
  durationMs: number;
  requestId: string;
}
export type ResponseObserver = (event: ResponseEvent) => void;

export class App<D extends DependencyMap = {}> extends Router<D> {
  readonly log: Logger;
  readonly bodyLimitBytes: number;
  readonly jsonMaxDepth: number;
  readonly responseValidation: boolean;
  readonly maxParamLength: number;
  readonly redisTimeoutMs: number;
  readonly admit: Admission | null;
  private readonly observers: ResponseObserver[] = [];
  private readonly errorHandlers: ErrorHandler[] = [];
  private notFoundHandler: NotFoundHandler | null;
  private compiled: { tree: RouteTree<CompiledRoute>; routes: CompiledRoute[] } | null = null;

  constructor(options: AppOptions<D> = {}) {
    super(options);
    this.log = options.log ?? createLogger('info');
    this.bodyLimitBytes = options.bodyLimitBytes ?? 1_048_576;
    this.jsonMaxDepth = options.jsonMaxDepth ?? 64;
    this.responseValidation = options.responseValidation ?? true;
    this.maxParamLength = options.maxParamLength ?? 100;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 1000;
    if (options.onError !== undefined) this.errorHandlers.push(options.onError);
    this.notFoundHandler = options.notFound ?? null;
    this.admit = options.admit ?? null;
  }

  /** Builds the route tree once; a duplicate or conflicting route throws here, naming both routes. */
  compile(): { tree: RouteTree<CompiledRoute>; routes: CompiledRoute[] } {
    if (this.compiled) return this.compiled;
    this.seal();
    const tree = new RouteTree<CompiledRoute>();
    const routes = this.declaredRoutes().map((r) => new CompiledRoute(r, this));
    for (const route of routes) tree.add(route.info.path, route.info.method, route, route.label);
    return (this.compiled = { tree, routes });
  }

  /** The route table, as the OpenAPI generator reads it. */
  routes(): RouteInfo[] {
    return this.compile().routes.map((r) => r.info);
  }

  observe(observer: ResponseObserver): this {
    this.observers.push(observer);
    return this;
  }

  /** Adds an error handler, consulted after those added before it (see ErrorHandler). */
  onError(handler: ErrorHandler): this {
    this.refuseIfCompiled('onError');
    this.errorHandlers.push(handler);
    return this;
  }

  /** Sets the answer to paths no route matches; a 405 (path known, method not) is unchanged. */
  notFound(handler: NotFoundHandler): this {
    this.refuseIfCompiled('notFound');
    this.notFoundHandler = handler;
    return this;
  }

  /** What the request handler reads once: error handlers (null when none) and the not-found handler. */
  failureHandlers(): { onError: readonly ErrorHandler[] | null; notFound: NotFoundHandler | null } {
    return { onError: this.errorHandlers.length > 0 ? this.errorHandlers : null, notFound: this.notFoundHandler };
  }

  private refuseIfCompiled(what: string): void {
    if (this.compiled !== null) throw new SkiffStartupError('SKIFF_ROUTER_SEALED', `${what}: cannot be set after the app compiled its routes`);
  }

  /** The observers, or null when there are none (the request path checks for null). */
  responseObservers(): readonly ResponseObserver[] | null {
    return this.observers.length > 0 ? this.observers : null;
  }
}

export function createApp<D extends DependencyMap = {}>(options: AppOptions<D> = {}): App<D> {
  return new App(options);
}
