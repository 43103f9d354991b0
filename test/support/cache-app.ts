// A small app with cached routes for the cache tests: counters show how often each handler ran, switches
// make handlers slow or failing.
import { Type } from '@sinclair/typebox';
import { createCache, redisCacheStore, type Cache, type CacheOptions } from '../../src/cache/index.ts';
import { createLogger } from '../../src/log.ts';
import { closeRedis, createRedis, pingRedis, redisErrorAnswer, type Redis } from '../../src/redis/index.ts';
import { HttpError, createApp, createRouter, defineDependency, type App } from '../../src/router/index.ts';
import { testClient, type TestClient } from '../../src/testing/index.ts';
import { startTestRedis, type TestRedis } from './redis.ts';

export interface CacheTestApp {
  app: App;
  /** Handler runs per route name. */
  calls: Record<string, number>;
  /** Makes /flaky and /stale-if-error fail with 500. */
  failing: { on: boolean };
  /** Milliseconds /slow waits before answering. */
  slowMs: { value: number };
}

/** Names the caller (ctx.principal) from X-User; 401 without it. */
export const user = defineDependency({
  name: 'user',
  principal: (u: { name: string }) => u.name,
  resolve: (ctx) => {
    const name = ctx.req.headers['x-user'];
    if (typeof name !== 'string') throw HttpError.of('UNAUTHORIZED');
    return { name };
  },
});

/** `redisTimeoutMs` is the app's per-request Redis deadline (ctx.deadline), which the cache's calls share. */
export function cacheTestApp(cache: Cache, hooks: { onSlow?: () => Promise<void>; redisTimeoutMs?: number } = {}): CacheTestApp {
  const calls: Record<string, number> = {};
  const failing = { on: false };
  const slowMs = { value: 200 };
  const count = (name: string): number => (calls[name] = (calls[name] ?? 0) + 1);
  const Thing = Type.Object({ id: Type.String(), n: Type.Integer(), q: Type.Optional(Type.String()) });
  const Problem = { description: 'error', schema: Type.Object({}, { additionalProperties: true }) };

  const router = createRouter();
  router.get('/things/{id}', {
      params: Type.Object({ id: Type.String() }),
      query: Type.Object({ q: Type.Optional(Type.String()), big: Type.Optional(Type.Integer()) }),
      response: { 200: Type.Object({ id: Type.String(), n: Type.Integer(), q: Type.Optional(Type.String()), pad: Type.Optional(Type.String()) }), 404: Problem },
      use: [cache.route({ ttl: 60, scope: 'public', tags: ['things'] })],
    }, (ctx) => {
      const n = count('things');
      if (ctx.params.id === 'missing') throw HttpError.of('NOT_FOUND');
      if (ctx.params.id === 'boom') throw new Error('handler bug');
      const body: { id: string; n: number; q?: string; pad?: string } = { id: ctx.params.id, n };
      if (ctx.query.q !== undefined) body.q = ctx.query.q;
      if (ctx.query.big !== undefined) body.pad = 'x'.repeat(ctx.query.big);
      return body;
    });
  router.get('/static', {
    response: { 200: Type.Object({ id: Type.String() }) },
    use: [cache.route({ ttl: 60, scope: 'public', tags: ['things'] })],
  }, () => {
    count('static');
    return { id: 'static' };
  });
  router.get('/api-keyed', {
    response: { 200: Type.Object({ n: Type.Integer() }) },
    use: [cache.route({ ttl: 60, scope: 'public', credentialHeaders: ['authorization', 'cookie', 'x-api-key'] })],
  }, () => ({ n: count('api-keyed') }));
  router.get('/lang', {
      response: { 200: Type.Object({ lang: Type.String(), n: Type.Integer() }) },
      use: [cache.route({ ttl: 60, scope: 'public', vary: ['Accept-Language'], namespace: 'lang' })],
    }, (ctx) => ({ lang: String(ctx.req.headers['accept-language'] ?? ''), n: count('lang') }));
  router.get('/me', {
      deps: { user },
      response: { 200: Type.Object({ name: Type.String(), n: Type.Integer() }) },
      // No principal option: the cache reads ctx.principal, which the core sets from the dependency.
      use: [cache.route({ ttl: 60, scope: 'private' })],
    }, (ctx) => ({ name: ctx.deps.user.name, n: count('me') }));
  router.get('/me/named', {
      deps: { user },
      response: { 200: Type.Object({ name: Type.String(), n: Type.Integer() }) },
      use: [cache.route({ ttl: 60, scope: 'private', principal: user })],
    }, (ctx) => ({ name: ctx.deps.user.name, n: count('me/named') }));
  router.get('/slow', {
      response: { 200: Thing },
      use: [cache.route({ ttl: 60, scope: 'public', namespace: 'slow' })],
    }, async () => {
      const n = count('slow');
      await hooks.onSlow?.();
      await new Promise((r) => setTimeout(r, slowMs.value));
      return { id: 'slow', n };
    });
  router.get('/swr', {
      response: { 200: Thing },
      use: [cache.route({ ttl: 30, staleWhileRevalidate: 60, scope: 'public' })],
    }, () => ({ id: 'swr', n: count('swr') }));
  router.get('/stale-if-error', {
      response: { 200: Thing },
      use: [cache.route({ ttl: 30, staleIfError: 60, scope: 'public' })],
    }, () => {
      const n = count('stale-if-error');
      if (failing.on) throw new Error('backend down');
      return { id: 'sie', n };
    });
  router.get('/cookie', {
      // The ResponseSpec form: ctx.reply on a bare-schema response trips TS2589 in the router's types.
      response: { 200: { description: 'ok', schema: Thing } },
      use: [cache.route({ ttl: 60, scope: 'public' })],
    }, (ctx) => ctx.reply(200, { id: 'cookie', n: count('cookie') }, { 'set-cookie': 'session=1' }));
  router.post('/things/{id}', {
      params: Type.Object({ id: Type.String() }),
      response: { 204: { description: 'done' } },
    }, async () => {
      await cache.invalidate({ tags: ['things'] });
  });
  const app = createApp({ log: createLogger('silent'), redisTimeoutMs: hooks.redisTimeoutMs, onError: redisErrorAnswer });
  app.include(router);
  return { app, calls, failing, slowMs };
}

export interface CacheHarness extends CacheTestApp {
  server: TestRedis;
  redis: Redis;
  cache: Cache;
  client: TestClient;
  stop(): Promise<void>;
}

/** A private Redis, a Redis-backed cache on it, the test app and a client over a real socket. */
export async function startCacheHarness(options: Partial<CacheOptions> & { timeoutMs: number }): Promise<CacheHarness> {
  const log = createLogger('silent');
  const server = await startTestRedis();
  const redis = createRedis({ url: server.url, commandTimeoutMs: options.timeoutMs, log });
  while (!(await pingRedis(redis, 200))) await new Promise((r) => setTimeout(r, 10));
  const cache = createCache({ store: redisCacheStore(redis, 'test:'), log, ...options });
  const t = cacheTestApp(cache, { redisTimeoutMs: options.timeoutMs });
  const client = await testClient(t.app);
  return {
    ...t, server, redis, cache, client,
    async stop() {
      await client.close();
      await closeRedis(redis);
      await server.stop();
    },
  };
}
