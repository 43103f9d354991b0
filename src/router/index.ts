// Public face of the router: declare routes, compose routers, build the app.
export { createApp, App, type Admission, type AppOptions, type ResponseEvent, type ResponseObserver } from './application.ts';
export { createRouter, Router, type DependencyMap, type RouterOptions } from './router.ts';
export { defineDependency, type Dependency, type SecurityRequirement } from './dependency.ts';
export { Reply, isStream } from './reply.ts';
export { staticRoute } from './static.ts';
export { MethodTable } from './segment-trie.ts';
export { CompiledRoute, JSON_CONTENT_TYPE } from './route.ts';
export type {
  Context, ErrorAnswer, ErrorHandler, Handler, Interceptor, NotFoundHandler, Method, Outcome, RequestContext, ResponseMap, ResponseSpec, RouteInfo, RouteOptions,
  RouteShape, RouteSpec, StreamBody, StreamOptions,
} from './types.ts';
export { HttpError } from '../errors.ts';
