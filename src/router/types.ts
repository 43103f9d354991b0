// The shapes a route is declared with, and the handler context typed from them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Deadline } from '../deadline.ts';
import type { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Dependency, DependencyValues } from './dependency.ts';
import type { Reply } from './reply.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One documented response header. */
export interface ResponseHeaderSpec {
  description?: string;
  schema: TSchema;
}

/** A response declared with more than its schema. A missing schema means an empty body (e.g. 204). */
export interface ResponseSpec {
  description?: string;
  schema?: TSchema;
  /** Defaults to application/json; anything else is sent as the handler gives it (string, Buffer or stream). */
  contentType?: string;
  headers?: Record<string, ResponseHeaderSpec>;
}

export type ResponseMap = { [status: number]: TSchema | ResponseSpec };

/** A streamed response body: chunks of text (UTF-8) or bytes. */
export type StreamBody = Readable | AsyncIterable<string | Buffer>;

/** What is sent: status, headers (lower-case names), body (already serialized, or a stream). */
export interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | StreamBody | null;
}

/**
 * ctx.stream's options. From the call on, the core owns the body: it never starts it for HEAD, and when the
 * exchange is over, on whatever path (the body ended or threw, the client left before or during it, HEAD, the
 * drain timeout), it destroys a Readable or calls the iterator's `return()`, then `onClose`, once.
 */
export interface StreamOptions {
  /** Releases what the handler took for the stream; called exactly once. A rejection is logged. */
  onClose?: () => void | Promise<void>;
}

/** Wraps handler + serialization of a route (the cache is one); `openapi` lets it document what it adds. */
export interface Interceptor {
  readonly name: string;
  around(ctx: RequestContext, next: () => Promise<Outcome>): Promise<Outcome>;
  openapi?(operation: Record<string, unknown>): void;
}

/** The part of a route declaration that types the handler. */
export interface RouteShape {
  params?: TObject;
  query?: TObject;
  headers?: TObject;
  body?: TSchema;
  response?: ResponseMap;
  deps?: Record<string, Dependency<unknown>>;
}

/** Documentation and behaviour options of a route. */
export interface RouteOptions {
  summary?: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  deprecated?: boolean;
  /** false: the route serves but is left out of the OpenAPI document (internal endpoints, the docs' own). */
  includeInSchema?: boolean;
  /** Largest accepted body in bytes; defaults to the app's `bodyLimitBytes`. */
  bodyLimit?: number;
  /** Deepest accepted JSON nesting of the body; defaults to the app's `jsonMaxDepth`. */
  bodyMaxDepth?: number;
  use?: Interceptor[];
}

export type RouteSpec<S extends RouteShape = RouteShape> = S & RouteOptions;

type In<T, Fallback> = T extends TSchema ? Static<T> : Fallback;
type BodyOf<R> = R extends TSchema ? Static<R> : R extends { schema: infer X extends TSchema } ? Static<X> : unknown;
type Responses<S extends RouteShape> = undefined extends S['response'] ? {} : NonNullable<S['response']>;
/** The body type of the route's first 2xx response: what a handler returns without an explicit reply. */
export type SuccessBody<S extends RouteShape> = Responses<S> extends infer R
  ? 200 extends keyof R ? BodyOf<R[200]>
  : 201 extends keyof R ? BodyOf<R[201]>
  : 202 extends keyof R ? BodyOf<R[202]>
  : 204 extends keyof R ? null | undefined | void
  : unknown
  : never;

/** Everything known about the request once it is validated; what dependencies and interceptors see. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly log: Logger;
  readonly method: string;
  /** The matched route's template, e.g. /v1/items/{id}. */
  readonly route: string;
  /** The request path without its query string. */
  readonly path: string;
  /** The raw query string (without '?'), '' when absent. */
  readonly rawQuery: string;
  /** Aborts when the client goes away before the response is complete (long polls, SSE). */
  readonly signal: AbortSignal;
  /**
   * The request's one Redis deadline (the app's `redisTimeoutMs`): bound every Redis call with
   * `ctx.deadline.bound(call)`, so the whole request waits at most that long on Redis, however many calls it makes.
   */
  readonly deadline: Deadline;
  /**
   * Aborts when the server starts draining (one signal for the whole server). A long-lived stream (SSE) should
   * then end soon with a last word telling its client to reconnect; its connection is closed after it ends.
   */
  readonly draining: AbortSignal;
  params: unknown;
  query: unknown;
  headers: unknown;
  body: unknown;
  deps: Record<string, unknown>;
  /** Who is calling, as the route's authenticating dependency names it (`Dependency.principal`); undefined when
   *  anonymous. The cache, idempotency keys and job ownership all scope by it. */
  principal: string | undefined;
}

/** `R`: the dependencies of the router the route is declared on, typed in `deps` with the route's own. */
export interface Context<S extends RouteShape, R = {}> extends RequestContext {
  params: In<S['params'], Record<string, string>>;
  query: In<S['query'], Record<string, never>>;
  headers: In<S['headers'], Record<string, never>>;
  body: In<S['body'], undefined>;
  deps: DependencyValues<S['deps']> & DependencyValues<R>;
  /** An explicit answer: any declared status, its body type-checked against that status's schema, plus headers. */
  reply<C extends keyof Responses<S> & number>(status: C, body: NoInfer<BodyOf<Responses<S>[C]>>, headers?: Record<string, string>): Reply;
  /**
   * A streamed answer (SSE, downloads): sent as it comes, without Content-Length; set `content-type` in headers.
   * The core releases the body and calls `options.onClose` exactly once on every path (see StreamOptions).
   */
  stream<C extends keyof Responses<S> & number>(status: C, body: StreamBody, headers?: Record<string, string>, options?: StreamOptions): Reply;
}

export type Handler<S extends RouteShape, R = {}> = (ctx: Context<S, R>) => SuccessBody<S> | Reply | Promise<SuccessBody<S> | Reply>;

/**
 * What an error handler or the not-found handler answers with: a problem (`HttpError`, sent as problem+json
 * with its headers) or a `Reply` (its body sent as JSON, or as given when it is a string or Buffer and the reply
 * sets a content-type).
 */
export type ErrorAnswer = HttpError | Reply;

/**
 * Consulted, in the order registered, before the default answer to any error a request meets (thrown by a
 * dependency, an interceptor or a handler, or a 404/405/422 of the core): map a domain error, add headers,
 * report to a tracker. Nothing returned: the next handler, then the default (an HttpError's own problem, else a
 * logged 500). One that throws is logged and skipped to the default. Not consulted once the response has begun.
 */
export type ErrorHandler = (err: unknown, ctx: RequestContext) => ErrorAnswer | undefined | void;

/** Answers a path no route matches (default: the NOT_FOUND problem). `ctx.route` is ''. */
export type NotFoundHandler = (ctx: RequestContext) => ErrorAnswer;

/** A route as the app knows it after composition: what the OpenAPI generator reads. */
export interface RouteInfo {
  readonly method: Method;
  /** Full path template in OpenAPI style, e.g. /v1/items/{id}. */
  readonly path: string;
  readonly spec: RouteSpec;
  readonly tags: readonly string[];
  /** Router-level dependencies first, then the route's own (`spec.deps`). */
  readonly dependencies: readonly Dependency<unknown>[];
  readonly interceptors: readonly Interceptor[];
}
