// An app as a service wants it: the settings of its environment (body limits, response validation, the Redis
// deadline) and Redis failures answered 503.
import type { Config } from '../config.ts';
import { redisErrorAnswer } from '../redis/index.ts';
import { createApp, type App, type AppOptions } from '../router/index.ts';

export interface ServiceAppOptions extends AppOptions {
  /** Settings the app takes from (BODY_LIMIT_BYTES, JSON_MAX_DEPTH, RESPONSE_VALIDATION, REDIS_COMMAND_TIMEOUT_MS); the other options win. */
  config?: Config;
}

export function createServiceApp({ config, ...options }: ServiceAppOptions = {}): App {
  const app = createApp({
    ...(config && {
      bodyLimitBytes: config.bodyLimitBytes,
      jsonMaxDepth: config.jsonMaxDepth,
      responseValidation: config.responseValidation,
      redisTimeoutMs: config.redisCommandTimeoutMs,
    }),
    ...options,
  });
  // After the service's own handler (options.onError), which may answer a Redis failure its own way: Redis did not
  // answer → 503 with Retry-After, saying whether the request was applied.
  return app.onError(redisErrorAnswer);
}
