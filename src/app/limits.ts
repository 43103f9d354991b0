// The example service's rate limits, values from config (RATE_LIMIT_*): writes spend a budget per API key,
// reads of the catalogue a budget per client IP. Each is one interceptor, listed first in a route's `use` (before
// the cache or the idempotency interceptor), so a refused request costs one store call and nothing else. Only
// routes whose Redis calls share ctx.deadline are limited: elsewhere (the job routes, export downloads bound each
// call on their own) a hung Redis would cost the limiter's wait and then the handler's again.
import type { RateLimiter } from '../ratelimit/index.ts';
import type { Interceptor } from '../router/index.ts';
import type { AppServices } from './services.ts';

export interface AppLimits {
  /** Per API key (ctx.principal); policy `writes`. */
  writes: Interceptor;
  /** Per client IP; policy `reads`. */
  reads: Interceptor;
}

export function appLimits(services: AppServices, limiter: RateLimiter): AppLimits {
  const { writes, reads } = services.config.rateLimit;
  return {
    writes: limiter.route({ policies: [{ name: 'writes', ...writes }], key: 'principal' }),
    reads: limiter.route({ policies: [{ name: 'reads', ...reads }], key: 'ip' }),
  };
}
