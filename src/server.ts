// The API entry point. In the primary process (`npm run serve`, `npm start`, the systemd unit) it runs the
// cluster supervisor: one private redis-server when no Redis is reachable, WEB_CONCURRENCY HTTP workers, and with
// `--with-workers` the queue workers too. Each HTTP worker runs this module again and serves the app.
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApp } from './app/index.ts';
import { cacheCollector, cacheFromConfig } from './cache/index.ts';
import { checkListen, describeListenError, joinSupervisor, listenTarget, runSupervisor, takeListenFd, type ListenAddress, type WorkerGroup, type WorkerLink } from './cluster/index.ts';
import { loadConfigOrExit, type Config } from './config.ts';
import { createServer, type ListenTarget, type SkiffServer } from './http/index.ts';
import { createLogger, type Logger } from './log.ts';
import { countInFlight, countRejected, createServerMetrics, metricsApp, instrumentApp, queueFamilies, type ServerMetrics } from './metrics/index.ts';
import { createQueue } from './queue/index.ts';
import { NoRedisError, closeRedis, createRedis, ensureRedis, pingRedis } from './redis/index.ts';
import { queueWorkerGroup } from './worker.ts';

export interface RunningApi {
  server: SkiffServer;
  metrics: ServerMetrics;
  /** Drains HTTP, closes Redis, stops a private redis-server; resolves when all is closed. */
  stop(): Promise<void>;
}

/** One API process: the app where the supervisor says (or HOST:PORT), GET /metrics on METRICS_HOST:METRICS_PORT. */
export async function startApi(config: Config, log: Logger, link: WorkerLink): Promise<RunningApi> {
  const redisHost = await ensureRedis(config.redisUrl, resolve('var/redis'), log);
  const redis = createRedis({ url: redisHost.url, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-api' });
  const cacheRedis = config.cache.redisUrl === undefined ? redis
    : createRedis({ url: config.cache.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'skiff-cache' });
  let server: SkiffServer | undefined;
  const metrics = createServerMetrics(() => link.gather());
  const cache = cacheFromConfig(config, cacheRedis, log);
  metrics.perProcess.collect(cacheCollector(cache));
  const queue = createQueue({ redis, prefix: config.redisPrefix, name: config.queue.name, jobs: [], commandTimeoutMs: config.redisCommandTimeoutMs });
  // Redis down: the scrape still answers, without the queue figures.
  metrics.perCluster.collect(() => queue.stats().then((s) => queueFamilies([s]), () => []));
  const app = buildApp({
    config,
    log,
    redis,
    isDraining: () => server?.isDraining() ?? false,
    pingRedis: () => pingRedis(redis, config.redisCommandTimeoutMs),
    cache,
  });
  instrumentApp(metrics.perProcess, app);
  app.observe(() => link.served());
  server = createServer(app, config, log);
  countInFlight(metrics.perProcess, server.server);
  countRejected(metrics.perProcess, server);
  const address = await listenOrExit(server, listenTarget(config.host, config.port), apiAddress(config), link);
  log.info('listening', { address, pid: process.pid });
  const metricsServer = createServer(metricsApp(metrics, log), { ...config, cors: { ...config.cors, origins: [] } }, log);
  log.info('metrics listening', { address: await listenOrExit(metricsServer, config.metrics, metricsAddress(config), link), pid: process.pid });
  link.ready();
  const running = server;
  return {
    server: running,
    metrics,
    async stop() {
      // A scrape in flight ends with the process; the next one goes to a sibling.
      metricsServer.server.close();
      await running.drain();
      // Each close waits at most the command bound: a hung Redis must not hold the stop past GRACEFUL_TIMEOUT.
      await Promise.all([closeRedis(redis, config.redisCommandTimeoutMs), cacheRedis !== redis && closeRedis(cacheRedis, config.redisCommandTimeoutMs)]);
      await redisHost.stop();
    },
  };
}

async function runWorker(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  let api: RunningApi | null = null;
  const link = joinSupervisor({
    log,
    stop: async () => api?.stop(),
    collect: () => api?.metrics.perProcess.snapshot() ?? [],
  });
  api = await startApi(config, log, link);
}

const apiAddress = (config: Config): ListenAddress => ({ host: config.host, port: config.port, variable: 'PORT' });
const metricsAddress = (config: Config): ListenAddress => ({ ...config.metrics, variable: 'METRICS_PORT' });

/** Listens, or (another worker would fail the same way) tells the supervisor why and exits. */
function listenOrExit(server: SkiffServer, target: ListenTarget, address: ListenAddress, link: WorkerLink): Promise<AddressInfo | string> {
  return server.listen(target).catch((err: unknown) => {
    link.fatal(describeListenError(err, address));
    return new Promise<never>(() => {}); // fatal() exits
  });
}

/** For `main`: one line on stderr and exit 1 (a start-up problem an operator must fix; retrying cannot). */
function refuseToStart(reason: string): never {
  process.stderr.write(`skiff: ${reason}\n`);
  process.exit(1);
}

async function runPrimary(config: Config, withQueueWorkers: boolean): Promise<number> {
  const log = createLogger(config.logLevel, { role: 'supervisor' });
  // Before Redis and the workers: a taken address is one line now, not a crash loop of workers later.
  const listenFd = takeListenFd();
  const taken = (listenFd === null ? await checkListen(apiAddress(config)) : null) ?? await checkListen(metricsAddress(config));
  if (taken !== null) refuseToStart(taken);
  // One Redis for every process: a private redis-server is started here, once, not per worker.
  const redisHost = await ensureRedis(config.redisUrl, resolve('var/redis'), log);
  const env = { REDIS_URL: redisHost.url };
  const { cluster: c } = config;
  const groups: WorkerGroup[] = [{
    name: 'api',
    exec: fileURLToPath(import.meta.url),
    count: c.webConcurrency,
    env,
    maxRequests: c.maxRequests,
    maxRequestsJitter: c.maxRequestsJitter,
  }];
  if (withQueueWorkers) groups.push(queueWorkerGroup(c, env));
  const code = await runSupervisor(groups, c, log, listenFd);
  await redisHost.stop();
  return code;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (cluster.isWorker) return runWorker(config);
  try {
    process.exit(await runPrimary(config, process.argv.includes('--with-workers')));
  } catch (err) {
    if (!(err instanceof NoRedisError)) throw err;
    refuseToStart(err.message);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
