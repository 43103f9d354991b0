// The example's API process as src/server.ts runs it (startApi: app, metrics, cache, server settings), in-process on a
// free loopback port with a private Redis: for tests about what the real server serves.
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import type { WorkerLink } from '../../src/cluster/index.ts';
import { exampleService } from '../../src/app/index.ts';
import { startApi, type RunningApi } from '../../src/service/index.ts';
import { startTestRedis, type TestRedis } from './redis.ts';

export const LIVE_API_KEY = 'live-api-test-key';

export interface LiveApi {
  readonly url: string;
  readonly config: Config;
  readonly redis: TestRedis;
  stop(): Promise<void>;
}

/** An unsupervised worker's link: nothing to tell a supervisor, only this process to gather from. */
export function standaloneLink(collect: () => unknown = () => []): WorkerLink {
  return {
    supervised: false, id: '0', group: 'web', ready() {}, waiting() {}, served() {}, gather: async () => [await collect()], stop: async () => {},
    fatal(reason) {
      throw new Error(reason);
    },
  };
}

export async function startLiveApi(env: Record<string, string> = {}): Promise<LiveApi> {
  const redis = await startTestRedis();
  const config = loadConfig({ REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', API_KEYS: LIVE_API_KEY, LOG_LEVEL: 'silent', ...env });
  let api: RunningApi | null = null;
  try {
    api = await startApi(exampleService, config, createLogger('silent'), standaloneLink(() => api?.metrics.perProcess.snapshot() ?? []));
  } catch (err) {
    await redis.stop();
    throw err;
  }
  const running = api;
  const { port } = running.server.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    redis,
    async stop() {
      await running.stop();
      await redis.stop();
    },
  };
}
