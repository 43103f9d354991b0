// Public face of rate limiting: GCRA policies checked in one store call per request (Redis or in-memory).
export { compilePolicy, type GcraPolicy, type RateLimitPolicy } from './policy.ts';
export { memoryRateLimitStore, type MemoryRateLimitStoreOptions } from './memory-store.ts';
export { redisRateLimitStore } from './redis-store.ts';
export type { RateLimitStore, Verdict } from './store.ts';
