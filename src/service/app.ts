// An app with the settings of the service's environment: body limits, response validation, the Redis deadline.
import type { Config } from '../config.ts';
import { createApp, type App, type AppOptions } from '../router/index.ts';

export interface ServiceAppOptions extends AppOptions {
  /** Settings the app takes from (BODY_LIMIT_BYTES, JSON_MAX_DEPTH, RESPONSE_VALIDATION, REDIS_COMMAND_TIMEOUT_MS); the other options win. */
  config?: Config;
}

export function createServiceApp({ config, ...options }: ServiceAppOptions = {}): App {
  return createApp({
    ...(config && {
      bodyLimitBytes: config.bodyLimitBytes,
      jsonMaxDepth: config.jsonMaxDepth,
      responseValidation: config.responseValidation,
      redisTimeoutMs: config.redisCommandTimeoutMs,
    }),
    ...options,
  });
}
