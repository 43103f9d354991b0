// The application: the root router plus what is fixed at start-up — the compiled route tree and the
// listeners told about every response.
import type { Logger } from '../log.ts';
import { createLogger } from '../log.ts';
import { RouteTree } from './segment-trie.ts';
import { CompiledRoute } from './route.ts';
import { Router, type RouterOptions } from './router.ts';
import type { RouteInfo } from './types.ts';

export interface AppOptions extends RouterOptions {
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
}

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

export class App extends Router {
  readonly log: Logger;
  readonly bodyLimitBytes: number;
  readonly jsonMaxDepth: number;
  readonly responseValidation: boolean;
  readonly maxParamLength: number;
  readonly redisTimeoutMs: number;
  private readonly observers: ResponseObserver[] = [];
  private compiled: { tree: RouteTree<CompiledRoute>; routes: CompiledRoute[] } | null = null;

  constructor(options: AppOptions = {}) {
    super(options);
    this.log = options.log ?? createLogger('info');
    this.bodyLimitBytes = options.bodyLimitBytes ?? 1_048_576;
    this.jsonMaxDepth = options.jsonMaxDepth ?? 64;
    this.responseValidation = options.responseValidation ?? true;
    this.maxParamLength = options.maxParamLength ?? 100;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 1000;
  }

  /** Builds the route tree once; a duplicate or conflicting route throws here, naming both routes. */
  compile(): { tree: RouteTree<CompiledRoute>; routes: CompiledRoute[] } {
    if (this.compiled) return this.compiled;
    this.sealed = true;
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

  /** The observers, or null when there are none (the request path checks for null). */
  responseObservers(): readonly ResponseObserver[] | null {
    return this.observers.length > 0 ? this.observers : null;
  }
}

export function createApp(options: AppOptions = {}): App {
  return new App(options);
}
