// The API entry point (`npm start`): configuration, Redis, the example app, the HTTP server, graceful stop.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from './app/index.ts';
import { cacheFromConfig } from './cache/index.ts';
import { loadConfigOrExit, type Config } from './config.ts';
import { createServer, type SkiffServer } from './http/index.ts';
import { createLogger, errorFields, type Logger } from './log.ts';
import { NoRedisError, closeRedis, createRedis, ensureRedis, pingRedis } from './redis/index.ts';

export interface RunningApi {
  server: SkiffServer;
  /** Drains HTTP, closes Redis, stops a private redis-server; resolves when all is closed. */
  stop(): Promise<void>;
}

export async function startApi(config: Config, log: Logger): Promise<RunningApi> {
  const redisHost = await ensureRedis(config.redisUrl, resolve('var/redis'), log);
  const redis = createRedis({ url: redisHost.url, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-api' });
  const cacheRedis = config.cache.redisUrl === undefined ? redis
    : createRedis({ url: config.cache.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-cache' });
  let server: SkiffServer | undefined;
  const app = buildApp({
    config,
    log,
    redis,
    isDraining: () => server?.isDraining() ?? false,
    pingRedis: () => pingRedis(redis, config.redisCommandTimeoutMs),
    cache: cacheFromConfig(config, cacheRedis, log),
  });
  server = createServer(app, config, log);
  const address = await server.listen({ port: config.port, host: config.host });
  log.info('listening', { address, pid: process.pid });
  const running = server;
  return {
    server: running,
    async stop() {
      await running.drain();
      await closeRedis(redis);
      if (cacheRedis !== redis) await closeRedis(cacheRedis);
      await redisHost.stop();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel);
  let api: RunningApi;
  try {
    api = await startApi(config, log);
  } catch (err) {
    if (err instanceof NoRedisError) {
      process.stderr.write(`skiff: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: draining in-flight requests', { signal });
    api.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', errorFields(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
