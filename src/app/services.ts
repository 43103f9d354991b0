import type { Cache } from '../cache/index.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Queue } from '../queue/index.ts';
import type { OverloadGuard, RateLimiter } from '../ratelimit/index.ts';
import type { Redis } from '../redis/index.ts';

/** What the example service is built from; the runner (src/service, a ServiceContext) or a test provides it. */
export interface AppServices {
  config: Config;
  log: Logger;
  redis: Redis;
  /** True once the server has begun its graceful drain. */
  isDraining(): boolean;
  /** True when Redis answers within the command timeout. */
  pingRedis(): Promise<boolean>;
  /** The response cache; unset: one is built from `config` on `redis`. */
  cache?: Cache;
  /** The rate limiter; unset: one is built from `config` on `redis`. */
  rateLimiter?: RateLimiter;
  /** Overload protection; unset: one is built from `config`. */
  overload?: OverloadGuard;
  /** The producer of the app's jobs (the runner's, with its own enqueue connection); unset: one on `redis`. */
  queue?: Queue;
}
