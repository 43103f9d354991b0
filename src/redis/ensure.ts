// `npm start` on a fresh machine: use a configured cluster or Sentinels, else REDIS_URL when set; else a Redis answering on 127.0.0.1:6379; else start
// a private redis-server (loopback, free port, AOF on, data under ./var/redis) and stop it on exit.
import { SkiffStartupError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { RedisNotInstalledError, redisAnswers, startRedisServer } from './server.ts';

export interface EnsuredRedis {
  url: string;
  /** Stops the private server, if one was started. */
  stop(): Promise<void>;
}

export class NoRedisError extends SkiffStartupError {
  override readonly name = 'NoRedisError';

  constructor(detail: string) {
    super('SKIFF_NO_REDIS', detail);
  }
}

export interface EnsureOptions {
  /** Where to look for an already running Redis (default 6379; tests probe a free port). */
  probePort?: number;
  /** The redis-server binary (default from PATH). */
  bin?: string;
  /** A Redis Cluster or Sentinels are configured: nothing to probe for or start (the url is then unused). */
  topology?: unknown;
}

export async function ensureRedis(configured: string | undefined, dataDir: string, log: Logger, options: EnsureOptions = {}): Promise<EnsuredRedis> {
  if (options.topology !== undefined) return { url: configured ?? '', stop: async () => {} };
  if (configured !== undefined) return { url: configured, stop: async () => {} };
  const probePort = options.probePort ?? 6379;
  if (await redisAnswers('127.0.0.1', probePort)) {
    log.info(`using the Redis on 127.0.0.1:${probePort} (set REDIS_URL to choose another)`);
    return { url: `redis://127.0.0.1:${probePort}`, stop: async () => {} };
  }
  try {
    const server = await startRedisServer({ dir: dataDir, appendonly: true, bin: options.bin, ownProcessGroup: true });
    log.info('no Redis configured or running: started a private redis-server', { url: server.url, dir: dataDir });
    return { url: server.url, stop: () => server.stop() };
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      throw new NoRedisError(`no Redis at REDIS_URL or 127.0.0.1:${probePort}, and redis-server is not installed: run \`sudo apt-get install -y redis-server\` or set REDIS_URL`);
    }
    throw err;
  }
}
