// What a service built on skiff hands to the runner: how to build its app, and the jobs its workers run.
import type { Cache } from '../cache/index.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { OverloadGuard, RateLimiter } from '../ratelimit/index.ts';
import type { CronEntry, JobDefinition, Queue } from '../queue/index.ts';
import type { Redis } from '../redis/index.ts';
import type { App } from '../router/index.ts';

/** What an API process gives the service's app factory: its connections, settings and state. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  redis: Redis;
  /** The response cache (CACHE_* settings, on CACHE_REDIS_URL when set). */
  cache: Cache;
  /** The rate limiter (RATE_LIMIT_* settings, TRUSTED_PROXIES); its counters are in /metrics. */
  rateLimiter: RateLimiter;
  /** Overload protection (OVERLOAD_* settings): give `overload.admit` to createApp; its counters are in /metrics. */
  overload: OverloadGuard;
  /** A producer for the service's jobs, on this process's Redis connection. */
  queue: Queue;
  /** True once the server has begun its graceful drain. */
  isDraining(): boolean;
  /** True when Redis answers within the command timeout. */
  pingRedis(): Promise<boolean>;
}

export interface Service {
  /** Builds the app, once in each API process. */
  app(context: ServiceContext): App;
  /** The jobs the service's queue knows and its workers run (a function when they depend on the settings). */
  jobs?: JobDefinition[] | ((config: Config) => JobDefinition[]);
  /** Schedules the queue workers keep (one enqueue per tick, whatever the number of workers). */
  cron?: CronEntry[];
  /** Settings; default: read from the environment (bad value → one line, exit 2). */
  config?: Config;
}

export function serviceJobs(service: Pick<Service, 'jobs'>, config: Config): JobDefinition[] {
  return typeof service.jobs === 'function' ? service.jobs(config) : service.jobs ?? [];
}
