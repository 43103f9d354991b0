// The example service on a real socket for end-to-end docs tests: a private Redis, the app built as
// src/server.ts builds it, and a test client. Redis is optional: the docs routes never touch it.
import { createClient } from 'redis';
import { buildApp } from '../src/app/index.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from '../src/redis/index.ts';
import type { App } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

export const TEST_API_KEY = 'contract-test-key';

export interface RunningExample {
  app: App;
  config: Config;
  client: TestClient;
  /** The private Redis (pause it to see 503s); null when started without one. */
  redis: TestRedis | null;
  stop(): Promise<void>;
}

export async function startExampleApp(options: { env?: Record<string, string>; redis?: boolean } = {}): Promise<RunningExample> {
  const log = createLogger('silent');
  let server: TestRedis | null = null;
  let redis: Redis;
  let config: Config;
  if (options.redis === true) {
    server = await startTestRedis();
    config = loadConfig({ REDIS_URL: server.url, API_KEYS: TEST_API_KEY, ...options.env });
    redis = createRedis({ url: server.url, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'docs-test' });
    while (!redis.isReady) await new Promise((r) => setTimeout(r, 10));
  } else {
    config = loadConfig({ API_KEYS: TEST_API_KEY, ...options.env });
    redis = createClient() as unknown as Redis; // never connected: these tests do not reach Redis
  }
  const app = buildApp({ config, log, redis, isDraining: () => false, pingRedis: () => pingRedis(redis, config.redisCommandTimeoutMs) });
  const client = await testClient(app);
  return {
    app,
    config,
    client,
    redis: server,
    async stop() {
      await client.close();
      await closeRedis(redis);
      await server?.stop();
    },
  };
}
