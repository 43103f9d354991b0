export { createRedis, pingRedis, withTimeout, RedisTimeoutError, isRedisUnavailable, redisFailure, closeRedis, reconnectDelay, type Redis, type RedisOptions } from './client.ts';
export { startRedisServer, redisAnswers, freePort, RedisNotInstalledError, type RedisServer, type RedisServerOptions } from './server.ts';
export { luaScript, luaScriptFile, BINARY_REPLIES, type LuaScript } from './script.ts';
export { ensureRedis, NoRedisError, type EnsuredRedis, type EnsureOptions } from './ensure.ts';
export { guardedScriptFile, guardedSource, GUARD_GRACE_MS, type GuardedScript } from './guard.ts';
export { redisErrorAnswer, type FailedRequest } from './answer.ts';
export { type RedisTopology, type RedisAccess, waitForReplicas } from './topology.ts';
export { keySlot, CLUSTER_SLOTS } from './slot.ts';
export { checkEvictionPolicy, RedisEvictionError } from './eviction.ts';
