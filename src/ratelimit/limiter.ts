// The rate limiter: `limiter.route({ policies, key, cost })` is an interceptor that spends the request's cost
// from every policy of its partition in one store call, answers 429 problem+json when a policy has no room, and
// adds the RateLimit / RateLimit-Policy header fields (draft-ietf-httpapi-ratelimit-headers) to what it lets through.
import type { BlockList } from 'node:net';
import { CircuitBreaker, UNAVAILABLE, type BreakerOptions, type BreakerState } from '../breaker.ts';
import { Deadline } from '../deadline.ts';
import { PROBLEM_CONTENT_TYPE, problem, unavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Interceptor, Outcome, RequestContext } from '../router/index.ts';
import { clientIp, trustedProxies } from './client-ip.ts';
import { compilePolicy, samePolicy, type GcraPolicy, type RateLimitPolicy } from './policy.ts';
import type { RateLimitStore, Verdict } from './store.ts';

/** RFC 9457 problem type the draft registers for a request past a quota. */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

export interface RateLimitRouteOptions {
  /** Checked together, in one store call: the request passes only if every one has room for its cost. */
  policies: RateLimitPolicy[];
  /**
   * Whose budget a request spends: `principal` (ctx.principal, set by the authenticating dependency; the client IP
   * when anonymous), `ip` (the client IP, see TRUSTED_PROXIES), or a function of the request.
   */
  key: 'principal' | 'ip' | ((ctx: RequestContext) => string);
  /** Units the request spends (default 1; 0 only checks). A non-negative integer. */
  cost?: number | ((ctx: RequestContext) => number);
}

export interface RateLimiterOptions {
  store: RateLimitStore;
  log: Logger;
  /** Bounds the breaker's probe; within a request, the store call shares the request's deadline (ctx.deadline). */
  timeoutMs: number;
  /** What a request gets when the store does not answer: `open` (default) lets it through, unlimited, with a
   *  log line and a metric; `closed` answers 503 with Retry-After. */
  failure?: 'open' | 'closed';
  /** Off: every route runs unlimited and no headers are added (default on). */
  enabled?: boolean;
  /** Proxies (addresses or CIDRs) whose Forwarded / X-Forwarded-For hops are believed; none by default. */
  trustedProxies?: readonly string[];
  breaker?: Partial<BreakerOptions>;
}

/** One decision, as `limiter.observe` reports it. */
export interface RateLimitDecision {
  requestId: string;
  route: string;
  partition: string;
  allowed: boolean;
  /** The policies that refused (empty when allowed). */
  violated: readonly string[];
  /** The store's clock at the decision, epoch ms. */
  at: number;
}

export interface RateLimitCounters {
  /** Per policy name: requests it let through, and requests refused with it among the violated. */
  allowed: Record<string, number>;
  limited: Record<string, number>;
  /** Store calls that failed, timed out or met an open circuit. */
  storeUnavailable: number;
  /** Requests let through unlimited because the store did not answer (failure: open). */
  failedOpen: number;
  /** Requests answered 503 because the store did not answer (failure: closed). */
  failedClosed: number;
  circuitOpened: number;
  circuit: BreakerState;
}

export interface RateLimiter {
  readonly store: RateLimitStore;
  /** An interceptor for a route's (or a router's, or the app's) `use: [...]`; list it before the cache's. */
  route(options: RateLimitRouteOptions): Interceptor;
  /** The client address a per-IP limit partitions by. */
  clientIp(ctx: RequestContext): string;
  /** Told of every decision the store made (not of requests let through while it was unavailable). */
  observe(observer: (decision: RateLimitDecision) => void): void;
  counters(): RateLimitCounters;
}

/** Fail-open lines are logged at most this often: a dead store must not turn every request into a log line. */
const FAIL_OPEN_LOG_EVERY_MS = 10_000;

const seconds = (us: number): number => Math.ceil(us / 1e6);
const NONE: readonly string[] = Object.freeze([]);

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { store } = options;
  const log = options.log.child({ component: 'ratelimit', store: store.kind });
  const enabled = options.enabled ?? true;
  const failClosed = options.failure === 'closed';
  const proxies: BlockList | null = trustedProxies(options.trustedProxies ?? []);
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, ...options.breaker }, log, () => new Deadline(options.timeoutMs).bound(store.ping()), {
    opened: failClosed ? 'rate-limit store failing; limited routes answer 503' : 'rate-limit store failing; limited routes run unlimited',
    closed: 'rate-limit store reachable again; limits apply',
  });
  const declared = new Map<string, GcraPolicy>();
  const allowed: Record<string, number> = {};
  const limited: Record<string, number> = {};
  const counts = { storeUnavailable: 0, failedOpen: 0, failedClosed: 0 };
  const observers: ((decision: RateLimitDecision) => void)[] = [];
  let lastFailOpenLog = 0;

  const ipOf = (ctx: RequestContext): string => clientIp(ctx.req, proxies);

  function policiesOf(list: RateLimitPolicy[]): GcraPolicy[] {
    if (list.length === 0) throw new TypeError('a rate limit needs at least one policy');
    return list.map((p) => {
      const policy = compilePolicy(p);
      const known = declared.get(policy.name);
      if (known !== undefined && !samePolicy(known, policy)) {
        throw new TypeError(`rate-limit policy "${policy.name}" is declared twice with different quota, window or burst: one name is one budget`);
      }
      declared.set(policy.name, policy);
      allowed[policy.name] ??= 0;
      limited[policy.name] ??= 0;
      return policy;
    });
  }

  function partitionOf(key: RateLimitRouteOptions['key'], ctx: RequestContext): string {
    if (key === 'ip') return `ip:${ipOf(ctx)}`;
    if (key === 'principal') return ctx.principal !== undefined ? `p:${ctx.principal}` : `ip:${ipOf(ctx)}`;
    return `k:${key(ctx)}`;
  }

  function costOf(cost: RateLimitRouteOptions['cost'], ctx: RequestContext): number {
    const units = typeof cost === 'function' ? cost(ctx) : cost ?? 1;
    if (!Number.isInteger(units) || units < 0) throw new TypeError(`a rate-limit cost must be a non-negative integer, got ${units}`);
    return units;
  }

  function route(routeOptions: RateLimitRouteOptions): Interceptor {
    const policies = policiesOf(routeOptions.policies);
    const { key, cost } = routeOptions;
    const names = policies.map((p) => p.name);
    // The policy field never changes: built once per route.
    const policyField = policies.map((p) => `"${p.name}";q=${p.quota};w=${p.windowS}`).join(', ');
    const rateField = (v: Verdict): string => {
      let field = '';
      for (let i = 0; i < policies.length; i++) field += `${i === 0 ? '' : ', '}"${names[i]}";r=${v.remaining[i]};t=${seconds(v.resetUs[i])}`;
      return field;
    };

    function refuse(v: Verdict, violated: readonly string[], units: number): Outcome {
      // A cost larger than a policy's whole burst never fits: no Retry-After would be true.
      const never = policies.some((p) => units > p.burst);
      const body = {
        ...problem(429, 'RATE_LIMITED', never
          ? `This request costs ${units} units, more than the policy ${violated.join(', ')} ever allows at once.`
          : `This request would pass the rate-limit policy ${violated.join(', ')}; retry in ${seconds(v.retryUs)} s.`),
        type: QUOTA_EXCEEDED_TYPE,
        'violated-policies': violated,
      };
      const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, 'ratelimit-policy': policyField, ratelimit: rateField(v) };
      if (!never) headers['retry-after'] = String(Math.max(1, seconds(v.retryUs)));
      return { status: 429, headers, body: JSON.stringify(body) };
    }

    return {
      name: 'rateLimit',
      async around(ctx, next) {
        if (!enabled) return next();
        const partition = partitionOf(key, ctx);
        const units = costOf(cost, ctx);
        const verdict = await breaker.guard(ctx.deadline, () => store.spend(partition, policies, units));
        if (verdict === UNAVAILABLE) {
          counts.storeUnavailable++;
          if (failClosed) {
            counts.failedClosed++;
            throw unavailableError(true);
          }
          counts.failedOpen++;
          const now = Date.now();
          if (now - lastFailOpenLog >= FAIL_OPEN_LOG_EVERY_MS) {
            lastFailOpenLog = now;
            log.warn('rate-limit store unavailable; requests run unlimited (fail-open)', { route: ctx.route, circuit: breaker.state });
          }
          return next();
        }
        let violated = NONE;
        if (!verdict.allowed) violated = names.filter((_, i) => verdict.remaining[i] < units);
        for (const name of verdict.allowed ? names : violated) (verdict.allowed ? allowed : limited)[name]++;
        if (observers.length > 0) {
          const decision: RateLimitDecision = { requestId: ctx.requestId, route: ctx.route, partition, allowed: verdict.allowed, violated, at: verdict.at };
          for (const observer of observers) observer(decision);
        }
        if (!verdict.allowed) return refuse(verdict, violated, units);
        const outcome = await next();
        // The outcome's headers may be a route's shared, frozen object: copy, never write into it.
        const headers: Record<string, string> = { ...outcome.headers, 'ratelimit-policy': policyField, ratelimit: rateField(verdict) };
        return { status: outcome.status, headers, body: outcome.body };
      },
      openapi(operation) {
        // Switched off (RATE_LIMIT_ENABLED=false), the route never answers 429: the document says so by omission.
        if (enabled) documentRateLimit(operation, policies);
      },
    };
  }

  return {
    store,
    route,
    clientIp: ipOf,
    observe: (observer) => void observers.push(observer),
    counters: () => ({
      allowed: { ...allowed }, limited: { ...limited }, ...counts, circuitOpened: breaker.opened, circuit: breaker.state,
    }),
  };
}

const headerDoc = (description: string) => ({ description, schema: { type: 'string' } });

/** A response's documented headers plus `added`, except those it already documents (in any letter case). */
function withHeaders(existing: unknown, added: Record<string, unknown>): Record<string, unknown> {
  const headers = { ...(existing as Record<string, unknown> | undefined) };
  const known = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  for (const [name, doc] of Object.entries(added)) if (!known.has(name.toLowerCase())) headers[name] = doc;
  return headers;
}

/** Adds the 429 answer and the RateLimit header fields to a limited operation's document. */
export function documentRateLimit(operation: Record<string, unknown>, policies: readonly GcraPolicy[]): void {
  const list = policies.map((p) => `\`${p.name}\`: ${p.quota} per ${p.windowS} s, burst ${p.burst}`).join('; ');
  const headers = {
    'RateLimit-Policy': headerDoc(`The policies this operation spends from (structured field list, e.g. \`"${policies[0].name}";q=${policies[0].quota};w=${policies[0].windowS}\`): ${list}.`),
    RateLimit: headerDoc('Per policy, what is left (structured field list: `r` units that may still be spent at once, `t` seconds until the whole burst is back).'),
  };
  const responses = (operation.responses ??= {}) as Record<string, Record<string, unknown>>;
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2\d\d$/.test(status) || typeof response !== 'object' || response === null) continue;
    response.headers = withHeaders(response.headers, headers);
  }
  const limitedDoc = `Rate limited (code RATE_LIMITED, type \`${QUOTA_EXCEEDED_TYPE}\`): a policy has no room for this request; \`violated-policies\` names it. Retry after \`Retry-After\`.`;
  const tooMany = { ...headers, 'Retry-After': headerDoc('Seconds until the request would fit.') };
  const declared = responses['429'];
  if (declared !== undefined) {
    // The route answers 429 for a quota of its own too: one response documents both.
    declared.description = `${String(declared.description ?? '')} Or: ${limitedDoc}`;
    declared.headers = withHeaders(declared.headers, tooMany);
    return;
  }
  responses['429'] = {
    description: limitedDoc,
    headers: tooMany,
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}
