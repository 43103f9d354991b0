// A small app with rate-limited routes for the rate-limit tests, on a limiter the test builds (Redis or memory
// store, fail-open or closed); counters show how often each handler ran, `decisions` what the limiter decided.
import { Type } from '@sinclair/typebox';
import { createCache, memoryCacheStore } from '../../src/cache/index.ts';
import { createLogger } from '../../src/log.ts';
import type { RateLimitDecision, RateLimiter } from '../../src/ratelimit/index.ts';
import { createApp, createRouter, type App } from '../../src/router/index.ts';
import { user } from './cache-app.ts';

export interface RateLimitTestApp {
  app: App;
  calls: Record<string, number>;
  decisions: RateLimitDecision[];
}

export function rateLimitTestApp(limiter: RateLimiter, redisTimeoutMs = 1000): RateLimitTestApp {
  const calls: Record<string, number> = {};
  const decisions: RateLimitDecision[] = [];
  limiter.observe((d) => decisions.push(d));
  const count = (name: string): number => (calls[name] = (calls[name] ?? 0) + 1);
  const N = Type.Object({ n: Type.Integer() });
  const cache = createCache({ store: memoryCacheStore({ maxEntries: 100, maxBytes: 1 << 20 }), log: createLogger('silent'), timeoutMs: 1000 });
  // An hour per unit: nothing refills while a test runs, however slow the machine.
  const hourly = { name: 'hourly', quota: 3, windowS: 10_800 };
  const router = createRouter();
  router.get('/limited', { response: { 200: N }, use: [limiter.route({ policies: [hourly], key: 'ip' })] }, () => ({ n: count('limited') }));
  router.get('/two', {
    response: { 200: N },
    use: [limiter.route({ policies: [{ name: 'short', quota: 2, windowS: 7200 }, { name: 'long', quota: 5, windowS: 86_400 }], key: 'ip' })],
  }, () => ({ n: count('two') }));
  router.get('/cached', {
    response: { 200: N },
    use: [limiter.route({ policies: [{ name: 'cached', quota: 3, windowS: 10_800 }], key: 'ip' }), cache.route({ ttl: 3600, scope: 'public' })],
  }, () => ({ n: count('cached') }));
  router.get('/mine', {
    deps: { user },
    response: { 200: N },
    use: [limiter.route({ policies: [{ name: 'mine', quota: 2, windowS: 7200 }], key: 'principal' })],
  }, () => ({ n: count('mine') }));
  // The same policy without an authenticating dependency: ctx.principal is undefined, the IP is the partition.
  router.get('/anonymous', {
    response: { 200: N },
    use: [limiter.route({ policies: [{ name: 'mine', quota: 2, windowS: 7200 }], key: 'principal' })],
  }, () => ({ n: count('anonymous') }));
  router.post('/costly', {
    query: Type.Object({ units: Type.Integer({ minimum: 0 }) }),
    response: { 200: N },
    use: [limiter.route({ policies: [{ name: 'costly', quota: 5, windowS: 18_000 }], key: 'ip', cost: (ctx) => (ctx.query as { units: number }).units })],
  }, () => ({ n: count('costly') }));
  router.get('/open', { response: { 200: N }, use: [limiter.route({ policies: [{ name: 'open', quota: 1000, windowS: 1 }], key: 'ip' })] }, () => ({ n: count('open') }));
  const app = createApp({ log: createLogger('silent'), redisTimeoutMs });
  app.include(router);
  return { app, calls, decisions };
}
