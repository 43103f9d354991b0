// An API process: the service's app on the address the supervisor says (or HOST:PORT), GET /metrics on
// METRICS_HOST:METRICS_PORT, and a graceful stop.
import type { AddressInfo } from 'node:net';
import { cacheCollector, cacheFromConfig } from '../cache/index.ts';
import { describeListenError, joinSupervisor, listenTarget, type ListenAddress, type WorkerLink } from '../cluster/index.ts';
import type { Config } from '../config.ts';
import { createServer, type ListenTarget, type SkiffServer } from '../http/index.ts';
import { createLogger, type Logger } from '../log.ts';
import { countInFlight, countRejected, createServerMetrics, instrumentApp, metricsApp, type ServerMetrics } from '../metrics/index.ts';
import { createQueue, queueCollector } from '../queue/index.ts';
import { overloadCollector, overloadGuardFromConfig, rateLimitCollector, rateLimiterFromConfig } from '../ratelimit/index.ts';
import { closeRedis, createRedis, ensureRedis, pingRedis } from '../redis/index.ts';
import { apiAddress, metricsAddress, privateRedisDir } from './addresses.ts';
import { runStartupChecks } from './startup-checks.ts';
import { serviceJobs, type Service } from './service.ts';

export interface RunningApi {
  server: SkiffServer;
  metrics: ServerMetrics;
  /** Drains HTTP, closes Redis, stops a private redis-server; resolves when all is closed. */
  stop(): Promise<void>;
}

/** Starts one API process of `service`; `link` is its supervisor (or a stand-in). */
export async function startApi(service: Service, config: Config, log: Logger, link: WorkerLink): Promise<RunningApi> {
  const redisHost = await ensureRedis(config.redisUrl, privateRedisDir(), log, { topology: config.redisTopology });
  const redis = createRedis({ url: redisHost.url, topology: config.redisTopology, access: config.redisAccess, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-api' });
  const cacheRedis = config.cache.redisUrl === undefined ? redis
    : createRedis({ url: config.cache.redisUrl, access: { ca: config.redisAccess.ca }, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-cache' });
  let server: SkiffServer | undefined;
  let metricsServer: SkiffServer | undefined;
  const metrics = createServerMetrics(() => link.gather());
  const cache = cacheFromConfig(config, cacheRedis, log);
  metrics.perProcess.collect(cacheCollector(cache));
  const rateLimiter = rateLimiterFromConfig(config, redis, log);
  const overload = overloadGuardFromConfig(config);
  metrics.perProcess.collect(rateLimitCollector(rateLimiter));
  metrics.perProcess.collect(overloadCollector(overload));
  // WAIT holds its connection until the replicas answer: enqueues that wait for them get a connection of their own.
  const enqueueRedis = config.queue.replicaAck === undefined ? redis
    : createRedis({ url: redisHost.url, topology: config.redisTopology, access: config.redisAccess, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-api-enqueue' });
  const queue = createQueue({
    redis, prefix: config.redisPrefix, name: config.queue.name, jobs: serviceJobs(service, config), commandTimeoutMs: config.redisCommandTimeoutMs,
    retention: config.queue.retention, replicaAck: config.queue.replicaAck && { ...config.queue.replicaAck, redis: enqueueRedis }, partitions: config.queue.partitions,
  });
  metrics.perCluster.collect(queueCollector(queue));
  let stopping: Promise<void> | null = null;
  const stop = () => stopping ??= (async () => {
    // A scrape in flight ends with the process; the next one goes to a sibling.
    metricsServer?.server.close();
    await server?.drain();
    overload.stop();
    await cache.close();
    // Each close waits at most the command bound: a hung Redis must not hold the stop past GRACEFUL_TIMEOUT.
    await Promise.all([redis, cacheRedis, enqueueRedis].filter((c, i, all) => all.indexOf(c) === i).map((c) => closeRedis(c, config.redisCommandTimeoutMs)));
    await redisHost.stop();
  })();
  // Refused (an evicting Redis, another partition count than the recorded one), the process stops and tells the
  // supervisor why, which stops too: every sibling would be refused the same way. Redis away: checked once it is back.
  const checks = runStartupChecks(queue, config, log, link, { stopped: () => stopping !== null, release: stop });
  const app = service.app({
    config,
    log,
    redis,
    cache,
    rateLimiter,
    overload,
    queue,
    isDraining: () => server?.isDraining() ?? false,
    pingRedis: () => pingRedis(redis, config.redisCommandTimeoutMs),
  });
  instrumentApp(metrics.perProcess, app);
  app.observe(() => link.served());
  server = createServer(app, config, log);
  countInFlight(metrics.perProcess, server.server);
  countRejected(metrics.perProcess, server);
  // Serve nothing before the eviction check (it waits at most the command bound), and no enqueue before the
  // partition check unless Redis does not answer it within that bound again (then it goes on meanwhile).
  await Promise.race([checks.passed, checks.evictionChecked.then(() => new Promise((resolve) => setTimeout(resolve, config.redisCommandTimeoutMs).unref()))]);
  const address = await listenOrExit(server, listenTarget(config.host, config.port), apiAddress(config), link);
  log.info('listening', { address, pid: process.pid });
  metricsServer = createServer(metricsApp(metrics, log), { ...config, cors: { ...config.cors, origins: [] } }, log);
  log.info('metrics listening', { address: await listenOrExit(metricsServer, config.metrics, metricsAddress(config), link), pid: process.pid });
  link.ready();
  return { server, metrics, stop };
}

/** An API process under the supervisor (or alone): serves until told to stop, then drains and exits 0. */
export async function runApiProcess(service: Service, config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  let api: RunningApi | null = null;
  const link = joinSupervisor({
    log,
    stop: async () => api?.stop(),
    collect: () => api?.metrics.perProcess.snapshot() ?? [],
  });
  api = await startApi(service, config, log, link);
}

/** Listens, or (another worker would fail the same way) tells the supervisor why and exits. */
function listenOrExit(server: SkiffServer, target: ListenTarget, address: ListenAddress, link: WorkerLink): Promise<AddressInfo | string> {
  return server.listen(target).catch((err: unknown) => {
    link.fatal(describeListenError(err, address));
    return new Promise<never>(() => {}); // fatal() exits
  });
}
