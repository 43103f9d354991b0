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
}

export const ERRORS = {
  BAD_REQUEST: { status: 400, detail: 'The request is malformed.' },
  MALFORMED_JSON: { status: 400, detail: 'The request body is not valid JSON.' },
  PROTOTYPE_POISONING: { status: 400, detail: 'The request body contains a forbidden key (__proto__ or constructor.prototype).' },
  MALFORMED_PATH: { status: 400, detail: 'The request path contains an invalid percent-encoding.' },
  UNAUTHORIZED: { status: 401, detail: 'Authentication is required.' },
  FORBIDDEN: { status: 403, detail: 'You are not allowed to do this.' },
  NOT_FOUND: { status: 404, detail: 'No resource at this path.' },
  METHOD_NOT_ALLOWED: { status: 405, detail: 'This method is not allowed on this path.' },
  CONFLICT: { status: 409, detail: 'The request conflicts with the current state of the resource.' },
  BODY_TOO_LARGE: { status: 413, detail: 'The request body is larger than this route accepts.' },
  URI_TOO_LONG: { status: 414, detail: 'A path parameter is longer than this server accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'This route accepts application/json bodies only.' },
  VALIDATION_FAILED: { status: 422, detail: 'The request did not match the schema.' },
  QUOTA_EXCEEDED: { status: 429, detail: 'This would pass a quota of the caller; retry once some of it is freed.' },
  INTERNAL: { status: 500, detail: 'The server failed to handle this request.' },
  SERVICE_UNAVAILABLE: { status: 503, detail: 'A backing service is unavailable; try again shortly.' },
  SHUTTING_DOWN: { status: 503, detail: 'The server is shutting down; retry on another connection.' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Throw one of these from a handler or a dependency to answer with problem+json. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(status: number, code: string, detail: string, options?: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown }) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.errors = options?.errors;
    this.headers = options?.headers;
  }

  /** An error from the catalogue, optionally with a more specific detail. */
  static of(code: ErrorCode, detail?: string, options?: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown }): HttpError {
    const e = ERRORS[code];
    return new HttpError(e.status, code, detail ?? e.detail, options);
  }

  toProblem(): ProblemBody {
    return problem(this.status, this.code, this.message, this.errors);
  }
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
};

export const ProblemSchema = Type.Object(problemFields, { $id: 'Problem', additionalProperties: false, description: 'An RFC 9457 problem.' });

export const ValidationProblemSchema = Type.Object(
  { ...problemFields, errors: Type.Array(FieldErrorSchema) },
  { $id: 'ValidationProblem', additionalProperties: false, description: 'An RFC 9457 problem listing every field that failed validation.' },
);
