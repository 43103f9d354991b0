export { createRedis, pingRedis, withTimeout, RedisTimeoutError, closeRedis, reconnectDelay, type Redis, type RedisOptions } from './client.ts';
export { startRedisServer, redisAnswers, freePort, RedisNotInstalledError, type RedisServer, type RedisServerOptions } from './server.ts';
