// Every error the HTTP core can answer with, in one place: status, stable code, and the RFC 9457 problem body.
import { STATUS_CODES } from 'node:http';
import { Type } from '@sinclair/typebox';

/** A field-level validation failure, FastAPI style: `loc` points at the field, e.g. ['query', 'limit']. */
export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** The RFC 9457 problem object skiff sends. `code` is a stable machine-readable name; `errors` only on 422. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  /** On 503s: false when the request certainly had no effect (safe to retry); absent when it may have. */
  applied?: boolean;
  /** On 429 RATE_LIMITED: the rate-limit policies the request would have passed. */
  'violated-policies'?: string[];
}

export const ERRORS = {
  BAD_REQUEST: { status: 400, detail: 'The request is malformed.' },
  MALFORMED_JSON: { status: 400, detail: 'The request body is not valid JSON.' },
  PROTOTYPE_POISONING: { status: 400, detail: 'The request body contains a forbidden key (__proto__ or constructor.prototype).' },
  JSON_TOO_DEEP: { status: 400, detail: 'The request body nests deeper than this server accepts.' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, detail: 'The Idempotency-Key header must be one value of 1 to 255 printable ASCII characters.' },
  MALFORMED_PATH: { status: 400, detail: 'The request path contains an invalid percent-encoding.' },
  TOO_MANY_QUERY_PARAMETERS: { status: 400, detail: 'The query string has more than 1000 parameters.' },
  UNAUTHORIZED: { status: 401, detail: 'Authentication is required.' },
  FORBIDDEN: { status: 403, detail: 'You are not allowed to do this.' },
  NOT_FOUND: { status: 404, detail: 'No resource at this path.' },
  METHOD_NOT_ALLOWED: { status: 405, detail: 'This method is not allowed on this path.' },
  REQUEST_TIMEOUT: { status: 408, detail: 'The request was not received in time.' },
  CONFLICT: { status: 409, detail: 'The request conflicts with the current state of the resource.' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, detail: 'A request with this Idempotency-Key is still being processed; retry after a moment.' },
  BODY_TOO_LARGE: { status: 413, detail: 'The request body is larger than this route accepts.' },
  URI_TOO_LONG: { status: 414, detail: 'A path parameter is longer than this server accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'This route accepts application/json bodies in UTF-8 only.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, detail: 'This Idempotency-Key was already used with a different request.' },
  VALIDATION_FAILED: { status: 422, detail: 'The request did not match the schema.' },
  QUOTA_EXCEEDED: { status: 429, detail: 'This would pass a quota of the caller; retry once some of it is freed.' },
  RATE_LIMITED: { status: 429, detail: 'This request would pass a rate limit of the caller; retry after Retry-After.' },
  HEADERS_TOO_LARGE: { status: 431, detail: 'The request headers are larger than this server accepts.' },
  INTERNAL: { status: 500, detail: 'The server failed to handle this request.' },
  METHOD_NOT_IMPLEMENTED: { status: 501, detail: 'This server does not implement this method.' },
  SERVICE_UNAVAILABLE: { status: 503, detail: 'A backing service did not answer in time; the request was not applied and may be retried after Retry-After.' },
  OUTCOME_UNKNOWN: { status: 503, detail: 'A backing service did not answer in time; the request may have been applied. Check its effect before retrying it.' },
  SHUTTING_DOWN: { status: 503, detail: 'The server is shutting down; retry on another connection.' },
  OVERLOADED: { status: 503, detail: 'The server is overloaded and refused the request before handling it; retry after Retry-After.' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Throw one of these from a handler or a dependency to answer with problem+json. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly applied: boolean | undefined;
  readonly type: string | undefined;

  constructor(status: number, code: string, detail: string, options?: HttpErrorOptions) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.errors = options?.errors;
    this.headers = options?.headers;
    this.applied = options?.applied;
    this.type = options?.type;
  }

  /** An error from the catalogue, optionally with a more specific detail. */
  static of(code: ErrorCode, detail?: string, options?: HttpErrorOptions): HttpError {
    const e = ERRORS[code];
    return new HttpError(e.status, code, detail ?? e.detail, options);
  }

  toProblem(): ProblemBody {
    const body = problem(this.status, this.code, this.message, this.errors);
    if (this.applied !== undefined) body.applied = this.applied;
    if (this.type !== undefined) body.type = this.type;
    return body;
  }
}

export interface HttpErrorOptions {
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
  /** Sent as the problem's `applied` member (503s). */
  applied?: boolean;
  /** The problem type URI (default about:blank: the status says it all). */
  type?: string;
}

/** Seconds a client is asked to wait before retrying after a 503 for a backing service. */
export const RETRY_AFTER_S = 1;

/**
 * The 503 for a backing service (Redis) that did not answer: SERVICE_UNAVAILABLE with `applied: false` when the
 * request certainly had no effect, OUTCOME_UNKNOWN (no `applied`) when a write may have run; Retry-After on both.
 */
export function unavailableError(notApplied: boolean, cause?: unknown): HttpError {
  const headers = { 'retry-after': String(RETRY_AFTER_S) };
  return notApplied
    ? HttpError.of('SERVICE_UNAVAILABLE', undefined, { headers, cause, applied: false })
    : HttpError.of('OUTCOME_UNKNOWN', undefined, { headers, cause });
}

export function problem(status: number, code: string, detail: string, errors?: FieldError[]): ProblemBody {
  const body: ProblemBody = { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code };
  if (errors !== undefined) body.errors = errors;
  return body;
}

export function validationError(errors: FieldError[]): HttpError {
  return HttpError.of('VALIDATION_FAILED', undefined, { errors });
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The schema of every problem body skiff sends (what `problem()` builds), for route declarations and OpenAPI. */
export const FieldErrorSchema = Type.Object(
  {
    loc: Type.Array(Type.Union([Type.String(), Type.Integer()]), { description: 'Where the error is: source (path, query, header, body) then the field path.' }),
    msg: Type.String({ description: 'Human-readable message.' }),
    type: Type.String({ description: 'Machine-readable error kind, e.g. missing, integer, string_min_length.' }),
  },
  { $id: 'FieldError', additionalProperties: false },
);

const problemFields = {
  type: Type.String({ description: 'A URI reference naming the problem type; about:blank when the status says it all.' }),
  title: Type.String({ description: 'The HTTP status phrase.' }),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String({ description: 'What went wrong, for a human.' }),
  code: Type.String({ description: 'Stable machine-readable error code, e.g. NOT_FOUND.' }),
  applied: Type.Optional(Type.Boolean({
    description: 'On 503: `false` when the request certainly had no effect, so retrying it is safe (after `Retry-After`); '
      + 'absent when a write may have been applied (code OUTCOME_UNKNOWN): check before retrying.',
  })),
  'violated-policies': Type.Optional(Type.Array(Type.String(), {
    description: 'On 429 (code RATE_LIMITED, type `https://iana.org/assignments/http-problem-types#quota-exceeded`): the '
      + 'rate-limit policies the request would have passed, as named in `RateLimit-Policy`.',
  })),
};

export const ProblemSchema = Type.Object(problemFields, { $id: 'Problem', additionalProperties: false, description: 'An RFC 9457 problem.' });

export const ValidationProblemSchema = Type.Object(
  { ...problemFields, errors: Type.Array(FieldErrorSchema) },
  { $id: 'ValidationProblem', additionalProperties: false, description: 'An RFC 9457 problem listing every field that failed validation.' },
);

/**
 * Every reason skiff refuses to start, with a stable code an operator can search for and what to do about it
 * (the README's "Start-up error codes" lists them; test/startup-errors.test.ts checks that it does). Printed as `skiff: CODE: ...`.
 */
export const STARTUP_ERRORS = {
  SKIFF_ROUTE_CONFLICT: 'Two routes share a method and path or name a parameter differently, or one ctx.deps name means two dependencies.',
  SKIFF_ROUTE_INVALID: 'A route path or its params schema is malformed: fix the declaration the message names.',
  SKIFF_ROUTER_SEALED: 'A route, router or handler was added after the app compiled (it would never be used): declare it before.',
  SKIFF_OPENAPI_DUPLICATE_OPERATION_ID: 'Two operations share an operationId: set a distinct `operationId` on one of the routes named.',
  SKIFF_OPENAPI_DUPLICATE_SCHEMA_ID: 'Two different schemas share an `$id`: rename one of them.',
  SKIFF_OPENAPI_INVALID_SCHEMA: 'A schema cannot be documented (an `$id` that is not a component name, or OpenAPI 3.0 `nullable`): fix the schema named.',
  SKIFF_OPENAPI_SECURITY_CONFLICT: 'Two dependencies declare the same security scheme id with different settings: give one another id.',
  SKIFF_CONFIG_INVALID: 'An environment variable has a bad value: fix the variables the message names (exit code 2).',
  SKIFF_ADDRESS_IN_USE: 'Another process listens on PORT (or METRICS_PORT): stop it or choose another port.',
  SKIFF_ADDRESS_UNUSABLE: 'The address cannot be listened on (a privileged port, a host that is not this machine): change HOST/PORT.',
  SKIFF_NO_REDIS: 'No Redis is reachable and redis-server is not installed: install it or set REDIS_URL.',
  SKIFF_REDIS_EVICTION: 'REDIS_REQUIRE_NOEVICTION is set and a Redis master may evict keys: set `maxmemory-policy noeviction` on it.',
  SKIFF_QUEUE_PARTITIONS: 'QUEUE_PARTITIONS differs from the count the queue recorded in Redis: set the recorded one, or change it on an empty queue (docs/SCALING.md).',
} as const;

export type StartupErrorCode = keyof typeof STARTUP_ERRORS;

/** A reason not to start; its message begins with its code, so `skiff: ${message}` is the line an operator sees. */
export class SkiffStartupError extends Error {
  override readonly name: string = 'SkiffStartupError';
  readonly code: StartupErrorCode;
  /** The message without its code. */
  readonly detail: string;

  constructor(code: StartupErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}
