// `npm start` on a fresh machine: use REDIS_URL when set; else a Redis answering on 127.0.0.1:6379; else start
// a private redis-server (loopback, free port, AOF on, data under ./var/redis) and stop it on exit.
import type { Logger } from '../log.ts';
import { RedisNotInstalledError, redisAnswers, startRedisServer } from './server.ts';

export interface EnsuredRedis {
  url: string;
  /** Stops the private server, if one was started. */
  stop(): Promise<void>;
}

export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

export async function ensureRedis(configured: string | undefined, dataDir: string, log: Logger): Promise<EnsuredRedis> {
  if (configured !== undefined) return { url: configured, stop: async () => {} };
  if (await redisAnswers('127.0.0.1', 6379)) {
    log.info('using the Redis on 127.0.0.1:6379 (set REDIS_URL to choose another)');
    return { url: 'redis://127.0.0.1:6379', stop: async () => {} };
  }
  try {
    const server = await startRedisServer({ dir: dataDir, appendonly: true });
    log.info('no Redis configured or running: started a private redis-server', { url: server.url, dir: dataDir });
    return { url: server.url, stop: () => server.stop() };
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      throw new NoRedisError('no Redis at REDIS_URL or 127.0.0.1:6379, and redis-server is not installed: run `sudo apt-get install -y redis-server` or set REDIS_URL');
    }
    throw err;
  }
}
