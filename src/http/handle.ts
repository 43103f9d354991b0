// The request lifecycle, one way through: match → inputs → dependencies → interceptors → handler →
// serializer → response. Routes with nothing to wait for before their handler run synchronously up to it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import querystring from 'node:querystring';
import { Deadline } from '../deadline.ts';
import { HttpError, PROBLEM_CONTENT_TYPE, validationError } from '../errors.ts';
import { errorFields, type Logger } from '../log.ts';
import {
  JSON_CONTENT_TYPE, Reply, isStream, type App, type CompiledRoute, type ErrorAnswer, type ErrorHandler, type MethodTable, type NotFoundHandler, type Outcome, type RequestContext,
  type StreamBody, type StreamOptions,
} from '../router/index.ts';
import { readJsonBody } from './body.ts';
import type { Cors } from './cors.ts';
import { HeldStream, pump } from './stream.ts';

const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
/** This process's tag and a counter: unique enough to find a request in the logs, and one concatenation to make. */
const requestIdPrefix = randomBytes(4).toString('hex') + '-';
let requestCounter = 0;
const nextRequestId = (): string => requestIdPrefix + (++requestCounter).toString(36);

/**
 * The client's X-Request-Id, read from the raw header list: `req.headers` builds an object of every header on
 * first read (≈1 µs for a browser's eight), which a route that reads no header need never pay. Sent twice, it is
 * not used (Node would join the two with ', ', which is no sane id either).
 */
function incomingRequestId(raw: string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 12 && name.toLowerCase() === 'x-request-id') {
      if (found !== undefined) return undefined;
      found = raw[i + 1];
    }
  }
  return found;
}

const SECURITY_CSP = "default-src 'none'; frame-ancestors 'none'";
const EMPTY: Record<string, never> = Object.freeze({}) as Record<string, never>;
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** node:querystring's `maxKeys`: it would drop pairs past this many, so a longer query is refused instead (the
 *  dropped tail could change what the handler reads while the cache key saw it). */
const MAX_QUERY_PAIRS = 1000;

function parseQueryString(raw: string): Record<string, unknown> {
  if (raw === '') return EMPTY;
  // Fewer characters than the limit cannot hold that many '&'-separated pairs: count only long queries.
  if (raw.length > MAX_QUERY_PAIRS && raw.split('&', MAX_QUERY_PAIRS + 1).length > MAX_QUERY_PAIRS) {
    throw HttpError.of('TOO_MANY_QUERY_PARAMETERS');
  }
  return querystring.parse(raw);
}

/** The handler's headers plus the plan's content type (a handler's own `content-type` wins). */
function withContentType(contentType: string, extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': contentType };
  for (const name in extra) headers[name] = extra[name];
  return headers;
}

function isAnswer(value: unknown): value is ErrorAnswer {
  return value instanceof HttpError || value instanceof Reply;
}

/** The app's error handlers in order, up to the first answer; one that throws or answers wrongly is logged. */
function consultErrorHandlers(handlers: readonly ErrorHandler[], ctx: RequestContext, err: unknown): ErrorAnswer | undefined {
  for (let i = 0; i < handlers.length; i++) {
    let answer: unknown;
    try {
      answer = handlers[i](err, ctx);
    } catch (thrown) {
      ctx.log.error('an error handler threw; answering by default', { route: ctx.route, ...errorFields(thrown), handling: errorFields(err).err });
      return undefined;
    }
    if (answer === undefined) continue;
    if (isAnswer(answer)) return answer;
    ctx.log.error('an error handler returned neither an HttpError nor a Reply; answering by default', { route: ctx.route });
    return undefined;
  }
  return undefined;
}

/** An HttpError as its problem+json; a Reply as JSON, or as given when it sets a content-type for a string or Buffer. */
function outcomeOf(answer: ErrorAnswer): Outcome {
  if (answer instanceof HttpError) {
    const headers = answer.headers ? { ...answer.headers, 'content-type': PROBLEM_CONTENT_TYPE } : { 'content-type': PROBLEM_CONTENT_TYPE };
    return { status: answer.status, headers, body: JSON.stringify(answer.toProblem()) };
  }
  const { status, body } = answer;
  const headers = answer.headers ?? NO_HEADERS;
  if (body === undefined || status === 204 || status === 304) return { status, headers, body: null };
  if (headers['content-type'] !== undefined && (typeof body === 'string' || Buffer.isBuffer(body))) return { status, headers, body };
  return { status, headers: withContentType(JSON_CONTENT_TYPE, headers), body: JSON.stringify(body) };
}

class Exchange implements RequestContext {
  params: unknown = EMPTY;
  query: unknown = EMPTY;
  headers: unknown = EMPTY;
  body: unknown = undefined;
  deps: Record<string, unknown> = EMPTY;
  principal: string | undefined = undefined;
  route = '';
  /** Answers get `Cache-Control: no-store` unless they set their own (authenticated routes). */
  noStore = false;
  private childLog: Logger | null = null;
  private controller: AbortController | null = null;
  private redisDeadline: Deadline | null = null;
  /** Stream bodies handed to ctx.stream, released when the exchange closes. */
  private held: HeldStream[] | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly method: string,
    readonly path: string,
    readonly rawQuery: string,
    readonly started: number,
    private readonly baseLog: Logger,
    private readonly redisTimeoutMs: number,
    readonly draining: AbortSignal,
  ) {}

  get log(): Logger {
    return (this.childLog ??= this.baseLog.child({ request_id: this.requestId }));
  }

  /** Aborts when the client goes away before the response is complete (long polls, SSE). */
  get signal(): AbortSignal {
    if (this.controller === null) {
      const controller = (this.controller = new AbortController());
      // Read first after the client left (a handler that awaited something): 'close' has already fired.
      if (this.res.closed) controller.abort();
      else this.res.once('close', () => controller.abort());
    }
    return this.controller.signal;
  }

  get deadline(): Deadline {
    return (this.redisDeadline ??= new Deadline(this.redisTimeoutMs));
  }

  reply(status: number, body: unknown, headers?: Record<string, string>): Reply {
    return new Reply(status, body, headers);
  }

  stream(status: number, body: StreamBody, headers?: Record<string, string>, options?: StreamOptions): Reply {
    this.hold(body, options?.onClose);
    return new Reply(status, body, headers);
  }

  /** The core's hold on a stream body from here on: released when the exchange closes, on every path. */
  hold(body: StreamBody, onClose?: () => void | Promise<void>): HeldStream {
    const held = new HeldStream(body, onClose, () => this.log).bindTo(this.res);
    (this.held ??= []).push(held);
    return held;
  }

  /** The hold on `body`: ctx.stream's, or a new one for a stream a handler or interceptor returned directly. */
  holdOf(body: StreamBody): HeldStream {
    const found = this.held?.find((h) => h.body === body);
    return found ?? this.hold(body);
  }
}

export interface RequestHandlerOptions {
  app: App;
  cors: Cors | null;
  /** The server's drain signal, seen by handlers as `ctx.draining` (default: never aborts). */
  draining?: AbortSignal;
}

export function createRequestHandler({ app, cors, draining = new AbortController().signal }: RequestHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { tree } = app.compile();
  const log = app.log;
  const observers = app.responseObservers();
  const accessLog = log.isEnabled('info');
  const timed = accessLog || observers !== null;
  const maxParamLength = app.maxParamLength;
  const redisTimeoutMs = app.redisTimeoutMs;
  const { onError, notFound } = app.failureHandlers();
  const admit = app.admit;

  function finish(ctx: Exchange, status: number): void {
    const durationMs = performance.now() - ctx.started;
    const route = ctx.route === '' ? null : ctx.route;
    if (accessLog) {
      log.info('request', { method: ctx.method, route, path: ctx.path, status, duration_ms: Math.round(durationMs * 1000) / 1000, request_id: ctx.requestId });
    }
    if (observers !== null) {
      const event = { method: ctx.method, route, status, durationMs, requestId: ctx.requestId };
      for (let i = 0; i < observers.length; i++) observers[i](event);
    }
  }

  function write(ctx: Exchange, outcome: Outcome): void {
    const res = ctx.res;
    const headers = outcome.headers;
    const flat: string[] = ['x-request-id', ctx.requestId, 'x-content-type-options', 'nosniff'];
    if (headers['content-security-policy'] === undefined) flat.push('content-security-policy', SECURITY_CSP);
    for (const name in headers) flat.push(name, headers[name]);
    if (ctx.noStore && headers['cache-control'] === undefined) flat.push('cache-control', 'no-store');
    if (cors !== null && headers['access-control-allow-origin'] === undefined) {
      const extra = cors.headersFor(ctx.req.headers.origin);
      for (let i = 0; i < extra.length; i++) flat.push(extra[i]);
    }
    const body = outcome.body;
    if (body === null || typeof body === 'string' || Buffer.isBuffer(body)) {
      if (outcome.status !== 204 && outcome.status !== 304) {
        flat.push('content-length', body === null ? '0' : String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
      }
      res.writeHead(outcome.status, flat);
      res.end(body);
      if (timed) finish(ctx, outcome.status);
      return;
    }
    const held = ctx.holdOf(body);
    res.writeHead(outcome.status, flat);
    if (timed) res.once('close', () => finish(ctx, outcome.status));
    // HEAD gets the GET's status and headers; its body is never started (and released when the response closes).
    if (ctx.method === 'HEAD') {
      res.end();
      return;
    }
    // The status line goes out now, not with the first chunk: an SSE client knows at once that it is following.
    res.flushHeaders();
    void pump(res, held, () => ctx.log).then((ended) => {
      // Ended while draining (it heeded ctx.draining): no keep-alive, so the client reconnects elsewhere at once.
      if (ended && draining.aborted) ctx.req.socket.end();
    });
  }

  /**
   * toOutcome then write, for what a handler returned. The common answer (the route's success schema, no headers
   * of the handler's own, none per origin or caller) goes out as one header array literal, with no Outcome or
   * header object in between: the same headers, in the same order, as write() gives it.
   */
  function respond(route: CompiledRoute, ctx: Exchange, result: unknown): void {
    const plan = route.success;
    if (cors !== null || ctx.noStore || plan.serialize === null || plan.check !== null || result instanceof Reply || isStream(result)) {
      return write(ctx, toOutcome(route, ctx, result));
    }
    const body = plan.serialize(result);
    ctx.res.writeHead(plan.status, [
      'x-request-id', ctx.requestId, 'x-content-type-options', 'nosniff', 'content-security-policy', SECURITY_CSP,
      'content-type', plan.contentType, 'content-length', String(Buffer.byteLength(body)),
    ]);
    ctx.res.end(body);
    if (timed) finish(ctx, plan.status);
  }

  function fail(ctx: Exchange, err: unknown): void {
    if (ctx.res.headersSent) {
      ctx.log.error('handler failed after the response started', errorFields(err));
      ctx.res.destroy();
      return;
    }
    // One write call below, not one per branch: measured, three made the 404 path ~10 % slower.
    let answer = onError !== null ? consultErrorHandlers(onError, ctx, err) : undefined;
    if (answer === undefined) {
      if (err instanceof HttpError) answer = err;
      else {
        ctx.log.error('unhandled error', { route: ctx.route, ...errorFields(err) });
        answer = HttpError.of('INTERNAL');
      }
    }
    write(ctx, outcomeOf(answer));
  }

  function answerNotFound(ctx: Exchange, handler: NotFoundHandler): void {
    let answer: unknown;
    try {
      answer = handler(ctx);
    } catch (err) {
      return fail(ctx, err);
    }
    if (isAnswer(answer)) return write(ctx, outcomeOf(answer));
    ctx.log.error('the not-found handler returned neither an HttpError nor a Reply', { path: ctx.path });
    write(ctx, outcomeOf(HttpError.of('NOT_FOUND')));
  }

  /** Turns what a handler returned into the bytes to send, through the schema of the status it answers with. */
  function toOutcome(route: CompiledRoute, ctx: Exchange, result: unknown): Outcome {
    const explicit = result instanceof Reply;
    const plan = explicit ? route.planFor(result.status) : route.success;
    const value = explicit ? result.body : result;
    const extra = explicit && result.headers !== undefined ? result.headers : NO_HEADERS;
    if (plan.empty) return { status: plan.status, headers: extra, body: null };
    const headers = extra === NO_HEADERS ? plan.headers : withContentType(plan.contentType, extra);
    if (isStream(value)) return { status: plan.status, headers, body: value };
    if (plan.serialize === null) return { status: plan.status, headers, body: typeof value === 'string' || Buffer.isBuffer(value) ? value : String(value) };
    if (plan.check !== null) {
      const errors = plan.check(value);
      if (errors !== null) {
        ctx.log.error('response does not match its schema', { route: route.label, status: plan.status, errors });
        throw HttpError.of('INTERNAL');
      }
    }
    return { status: plan.status, headers, body: plan.serialize(value) };
  }

  async function produce(route: CompiledRoute, ctx: Exchange): Promise<Outcome> {
    return toOutcome(route, ctx, await route.handler(ctx as never));
  }

  function intercept(route: CompiledRoute, ctx: Exchange, index: number): Promise<Outcome> {
    const interceptors = route.interceptors!;
    if (index === interceptors.length) return produce(route, ctx);
    return interceptors[index].around(ctx, () => intercept(route, ctx, index + 1));
  }

  async function runAsync(route: CompiledRoute, ctx: Exchange): Promise<void> {
    if (route.deps !== null) {
      // Dependencies (authentication) run before the body is read: an anonymous client cannot make us parse 1 MiB.
      const values: Record<string, unknown> = {};
      ctx.deps = values;
      for (const { dependency, names } of route.deps) {
        const value = await dependency.resolve(ctx);
        for (let i = 0; i < names.length; i++) values[names[i]] = value;
        if (dependency.principal !== undefined) ctx.principal = dependency.principal(value);
      }
    }
    if (route.parseBody !== null) {
      const raw = await readJsonBody(ctx.req, route.bodyLimit, route.bodyMaxDepth);
      if (raw === undefined) throw validationError([{ loc: ['body'], msg: 'Field required', type: 'missing' }]);
      ctx.body = route.parseBody(raw);
    }
    if (route.interceptors !== null) write(ctx, await intercept(route, ctx, 0));
    else respond(route, ctx, await route.handler(ctx as never));
  }

  function readParams(route: CompiledRoute, values: readonly string[]): unknown {
    const raw: Record<string, string> = {};
    const names = route.paramNames;
    for (let i = 0; i < values.length; i++) {
      let value = values[i];
      if (value.length > maxParamLength) throw HttpError.of('URI_TOO_LONG');
      if (value.indexOf('%') !== -1) {
        try {
          value = decodeURIComponent(value);
        } catch {
          throw HttpError.of('MALFORMED_PATH');
        }
      }
      raw[names[i]] = value;
    }
    return route.parseParams !== null ? route.parseParams(raw) : raw;
  }

  function answerOptions(ctx: Exchange, table: MethodTable<CompiledRoute>): void {
    const origin = ctx.req.headers.origin;
    const requested = ctx.req.headers['access-control-request-method'];
    const preflight = cors !== null && origin !== undefined && typeof requested === 'string' ? cors.preflight(origin, requested) : null;
    const headers: Record<string, string> = { allow: table.allow };
    if (preflight !== null) for (let i = 0; i < preflight.length; i += 2) headers[preflight[i]] = preflight[i + 1];
    write(ctx, { status: 204, headers, body: null });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (path.length > 1 && path.charCodeAt(path.length - 1) === 47 /* / */) path = path.slice(0, -1);
    const incomingId = incomingRequestId(req.rawHeaders);
    const requestId = incomingId !== undefined && SANE_REQUEST_ID.test(incomingId) ? incomingId : nextRequestId();
    const method = req.method ?? 'GET';
    const ctx = new Exchange(req, res, requestId, method, path, q === -1 ? '' : url.slice(q + 1), timed ? performance.now() : 0, log, redisTimeoutMs, draining);
    const refused = admit !== null ? admit(req, res, path) : null;
    if (refused !== null) return fail(ctx, refused);

    const found = tree.find(path);
    if (found === null) return notFound === null ? fail(ctx, HttpError.of('NOT_FOUND')) : answerNotFound(ctx, notFound);
    // Before the method check: a 405 or an OPTIONS answer is counted and logged under its path's template too.
    ctx.route = found.table.template;
    let route = found.table.byMethod[method];
    if (route === undefined) {
      if (method === 'HEAD') route = found.table.byMethod.GET;
      else if (method === 'OPTIONS') return answerOptions(ctx, found.table);
      if (route === undefined) return fail(ctx, HttpError.of('METHOD_NOT_ALLOWED', undefined, { headers: { allow: found.table.allow } }));
    }
    ctx.noStore = route.noStore;
    try {
      if (found.params.length > 0 || route.parseParams !== null) ctx.params = readParams(route, found.params);
      if (route.parseQuery !== null) ctx.query = route.parseQuery(parseQueryString(ctx.rawQuery));
      if (route.parseHeaders !== null) ctx.headers = route.parseHeaders(req.headers);
      if (!route.synchronous) {
        runAsync(route, ctx).catch((err: unknown) => fail(ctx, err));
        return;
      }
      const result = route.handler(ctx as never);
      if (result instanceof Promise) {
        const r = route;
        result.then((value) => respond(r, ctx, value)).catch((err: unknown) => fail(ctx, err));
      } else respond(route, ctx, result);
    } catch (err) {
      fail(ctx, err);
    }
  };
}
