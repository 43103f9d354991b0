// The package face, `import … from 'skiff'`: build an app from routers, run it as a service (API + queue
// workers under the supervisor), and the errors, settings and schema builder that go with it. Subsystems have
// faces of their own: skiff/cache, skiff/ratelimit, skiff/queue, skiff/cluster, skiff/testing (package.json `exports`).
export { Type, type Static, type TSchema } from '@sinclair/typebox';
export { createServiceApp as createApp, runService, type RunOptions, type Service, type ServiceAppOptions, type ServiceContext, type ServiceRole } from './service/index.ts';
export {
  App, createRouter, defineDependency, isStream, Reply, Router,
  type Admission, type AppOptions, type Context, type Dependency, type Handler, type Interceptor, type Method, type Outcome, type RequestContext,
  type ResponseEvent, type ResponseMap, type ResponseObserver, type ResponseSpec, type RouteInfo, type RouteOptions, type RouterOptions,
  type RouteSpec, type SecurityRequirement, type StreamBody, type StreamOptions,
  type DependencyMap, type ErrorAnswer, type ErrorHandler, type NotFoundHandler,
} from './router/index.ts';
export {
  ERRORS, FieldErrorSchema, HttpError, PROBLEM_CONTENT_TYPE, problem, ProblemSchema, SkiffStartupError, STARTUP_ERRORS, unavailableError,
  ValidationProblemSchema, type ErrorCode, type StartupErrorCode, type FieldError, type HttpErrorOptions, type ProblemBody,
} from './errors.ts';
export { ConfigError, EnvSchema, loadConfig, loadConfigOrExit, type CacheConfig, type ClusterConfig, type Config, type Env, type RateLimitConfig } from './config.ts';
export { createLogger, type Logger, type LogLevel } from './log.ts';
export { mountDocs, openApiDocument, type DocsConfig, type OpenApiDocument } from './openapi/index.ts';
export { createIdempotency, idempotencyFromConfig, idempotencyId, type IdempotencyOptions } from './idempotency/index.ts';
export { redisErrorAnswer, type Redis } from './redis/index.ts';
