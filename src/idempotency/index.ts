// Idempotency-Key for unsafe routes, after the IETF httpapi draft "The Idempotency-Key HTTP Header Field" and
// Stripe's practice. The first request with a key runs and its response (status, headers, body) is stored under
// (principal, route, key) with a fingerprint of the request; a retry of the same request gets that response
// again (`Idempotent-Replayed: true`), a different request under the same key 422, a retry while the first runs
// 409 + Retry-After. What makes a retry after a failure (a 503, a dead process) safe is the operation id: drawn
// once, when the key is first claimed, and the same for every run under that key, so a handler that names what
// it creates by it (`idempotencyId(ctx)`) writes the same thing again instead of a duplicate.
import { createHash, randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { ERRORS, HttpError, PROBLEM_CONTENT_TYPE, unavailableError } from '../errors.ts';
import { errorFields, type Logger } from '../log.ts';
import { guardedScriptFile, luaScriptFile, type Redis } from '../redis/index.ts';
import type { Interceptor, Outcome, RequestContext } from '../router/index.ts';
import { canonicalJson } from '../schema/index.ts';
import { idempotencyKeys } from './keys.ts';

const lua = new URL('./lua/', import.meta.url);
const claimKey = guardedScriptFile(lua, 'claimKey-1.lua');
const storeResponse = luaScriptFile(lua, 'storeResponse-1.lua');
const releaseClaim = luaScriptFile(lua, 'releaseClaim-1.lua');

export interface IdempotencyOptions {
  redis: Redis;
  /** Prefix of every key (config.redisPrefix). */
  prefix: string;
  /** How long a key and its stored response are kept, from the first request (IDEMPOTENCY_TTL_S). */
  ttlS: number;
  /**
   * How long a running request holds its key (IDEMPOTENCY_LEASE_MS): retries meanwhile get 409. When it lapses
   * (the process died, or the response could not be stored) the next retry runs again, under the same operation id.
   */
  leaseMs: number;
  log: Logger;
}

/** The key's syntax: 1–255 printable ASCII characters (the header's value as sent, quotes included). */
const KEY = /^[\x20-\x7e]{1,255}$/;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const RETRY_AFTER_S = '1';
const REPLAYED = 'idempotent-replayed';

/** Operation ids of the requests that hold a claim. */
const operations = new WeakMap<RequestContext, string>();

/** Random, and time-ordered like the example app's item ids: 10 base-36 digits of ms, then 16 hex digits. */
function newOperationId(): string {
  return Date.now().toString(36).padStart(10, '0') + randomBytes(8).toString('hex');
}

/**
 * The id a handler gives what it creates when the request claimed an Idempotency-Key: the same on every retry
 * with that key (26 characters of [0-9a-z], time-ordered). Undefined without a key: the creator's own default.
 */
export function idempotencyId(ctx: RequestContext): string | undefined {
  return operations.get(ctx);
}

/** The route interceptor: `use: [idempotency]` on an unsafe route makes `Idempotency-Key` work there. */
export function createIdempotency(options: IdempotencyOptions): Interceptor {
  const { redis, log } = options;
  const keys = idempotencyKeys(options.prefix);
  const ttl = String(options.ttlS);
  const lease = String(options.leaseMs);
  function fingerprint(ctx: RequestContext): string {
    return createHash('sha256').update(canonicalJson([ctx.method, ctx.route, ctx.params, ctx.query, ctx.body])).digest('base64url');
  }

  // Storing and releasing share the request's deadline like every other Redis call; when it is spent they are
  // skipped, and the claim lapses with its lease (a retry then runs again, under the same operation id: safe).

  /** Stores what the handler answered, or gives the claim up when there is nothing worth replaying. */
  async function settle(ctx: RequestContext, record: string, id: string, outcome: Outcome): Promise<void> {
    const { status, headers, body } = outcome;
    // A server error is not an answer to replay: the retry runs again (same operation id, so no duplicate).
    // Streams cannot be replayed either.
    if (status >= 500 || (body !== null && typeof body !== 'string')) return release(ctx, record, id);
    try {
      await ctx.deadline.bound(storeResponse.run(redis, [record], [id, String(status), JSON.stringify(headers), body ?? '']));
    } catch (err) {
      // The request was applied and its answer is sent; a retry within the lease gets 409, after it runs again.
      log.warn('idempotent response not stored', errorFields(err));
    }
  }

  function release(ctx: RequestContext, record: string, id: string): Promise<void> {
    return ctx.deadline.bound(releaseClaim.run(redis, [record], [id])).then(
      () => {},
      (err: unknown) => log.warn('idempotency claim not released; it lapses with its lease', errorFields(err)),
    );
  }

  return {
    name: 'idempotency',
    async around(ctx, next) {
      const key = ctx.req.headers['idempotency-key'];
      if (key === undefined || !UNSAFE.has(ctx.method)) return next();
      if (typeof key !== 'string' || !KEY.test(key)) throw HttpError.of('IDEMPOTENCY_KEY_INVALID');
      const record = keys.record(ctx.principal ?? '', `${ctx.method} ${ctx.route}`, key);
      let claim: string[];
      try {
        claim = (await claimKey.run(redis, ctx.deadline, [record], [fingerprint(ctx), newOperationId(), lease, ttl])) as string[];
      } catch (err) {
        // Nothing was claimed (the claim is deadline-guarded) and the handler did not run.
        throw unavailableError(true, err);
      }
      switch (claim[0]) {
        case 'run': {
          const id = claim[1];
          operations.set(ctx, id);
          let outcome: Outcome;
          try {
            outcome = await next();
          } catch (err) {
            await release(ctx, record, id);
            throw err;
          }
          await settle(ctx, record, id, outcome);
          return outcome;
        }
        case 'done': {
          const headers = JSON.parse(claim[2]) as Record<string, string>;
          headers[REPLAYED] = 'true';
          return { status: Number(claim[1]), headers, body: claim[3] === '' ? null : claim[3] };
        }
        case 'running':
          throw HttpError.of('IDEMPOTENCY_KEY_IN_USE', undefined, { headers: { 'retry-after': RETRY_AFTER_S } });
        default: // 'mismatch'
          throw HttpError.of('IDEMPOTENCY_KEY_REUSED');
      }
    },
    openapi: documentIdempotency,
  };
}

/** The interceptor configured from the environment (IDEMPOTENCY_TTL_S, IDEMPOTENCY_LEASE_MS). */
export function idempotencyFromConfig(config: Config, redis: Redis, log: Logger): Interceptor {
  return createIdempotency({
    redis, prefix: config.redisPrefix, ttlS: config.idempotency.ttlS, leaseMs: config.idempotency.leaseMs, log,
  });
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

/** Adds the Idempotency-Key parameter, the Idempotent-Replayed header and the 400 / 409 / 422 answers. */
function documentIdempotency(operation: Record<string, unknown>): void {
  const parameters = (operation.parameters ??= []) as Record<string, unknown>[];
  parameters.push({
    name: 'Idempotency-Key', in: 'header', required: false,
    description: 'Makes a retry safe: the first request with a key runs, a retry of the same request gets the same response '
      + '(`Idempotent-Replayed: true`), for as long as the key is kept. Keys are per caller and per operation; use a fresh random '
      + 'value (e.g. a UUID) per intended operation.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7E]+$' },
  });
  const responses = (operation.responses ??= {}) as Record<string, Record<string, unknown>>;
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2\d\d$/.test(status)) continue;
    response.headers = {
      ...(response.headers as Record<string, unknown> | undefined),
      'Idempotent-Replayed': { description: '`true` when this is the stored response of an earlier request with the same Idempotency-Key.', schema: { type: 'string', enum: ['true'] } },
    };
  }
  // A status the route already answers with keeps its meaning; ours is added as an alternative.
  const add = (status: string, detail: string) => {
    const existing = responses[status];
    if (existing === undefined) {
      responses[status] = { description: detail, content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } };
      return;
    }
    existing.description = `${String(existing.description)} Or: ${detail}`;
    const media = ((existing.content ??= {}) as Record<string, { schema?: unknown }>)[PROBLEM_CONTENT_TYPE] ??= {};
    if (media.schema === undefined) media.schema = PROBLEM_REF;
    else if ((media.schema as { $ref?: string }).$ref !== PROBLEM_REF.$ref) media.schema = { anyOf: [media.schema, PROBLEM_REF] };
  };
  add('400', ERRORS.IDEMPOTENCY_KEY_INVALID.detail);
  add('409', `${ERRORS.IDEMPOTENCY_KEY_IN_USE.detail} Comes with Retry-After.`);
  add('422', ERRORS.IDEMPOTENCY_KEY_REUSED.detail);
}
