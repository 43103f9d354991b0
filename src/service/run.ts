// runService: the one way a skiff service runs, the example's entry points and systemd units included. The
// main process is the cluster supervisor; it forks the same entry module again, and each fork serves the
// app (group `api`) or runs a queue worker (group `worker`). What only a fork runs (the HTTP server, the queue
// worker, and the app when the entry hands over a loader) is imported in the fork: the supervisor stays small.
import cluster from 'node:cluster';
import { checkListen, runSupervisor, takeListenFd, workerGroup, type WorkerGroup } from '../cluster/index.ts';
import { loadConfigOrExit, type Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { ensureRedis, NoRedisError } from '../redis/index.ts';
import { apiAddress, metricsAddress, privateRedisDir } from './addresses.ts';
import { serviceJobs, type Service } from './service.ts';

/** What the main process runs: the API (WEB_CONCURRENCY processes), the queue workers (WORKER_CONCURRENCY), or both. */
export type ServiceRole = 'api' | 'worker' | 'all';

export interface RunOptions {
  /** Default: the command line's first argument (`api` or `worker`), else `all`. */
  role?: ServiceRole;
}

const USAGE = 'usage: node --import tsx <service entry> [api|worker]   (no argument: the API and the queue workers)';

/**
 * The service, or a function that imports it (`() => import('./app.ts').then((m) => m.service)`): then only the
 * forks load the app, and the supervisor, which never calls it, reads its settings from the environment.
 */
export type ServiceSource = Service | (() => Promise<Service>);

/** Runs the service in this process's part: supervisor, API process or queue worker. Exits when stopped (0 on a graceful stop). */
export async function runService(source: ServiceSource, options: RunOptions = {}): Promise<void> {
  if (cluster.isWorker) {
    const service = typeof source === 'function' ? await source() : source;
    const config = serviceConfig(service);
    if (workerGroup() === 'worker') {
      const { runWorkerProcess } = await import('./worker.ts');
      runWorkerProcess({ jobs: serviceJobs(service, config), cron: service.cron, config });
    } else {
      const { runApiProcess } = await import('./api.ts');
      await runApiProcess(service, config);
    }
    return;
  }
  const config = typeof source === 'function' ? loadConfigOrExit() : serviceConfig(source);
  const role = options.role ?? roleFromArgs(process.argv.slice(2));
  try {
    process.exit(await supervise(config, role));
  } catch (err) {
    if (!(err instanceof NoRedisError)) throw err;
    refuseToStart(err.message);
  }
}

function roleFromArgs(args: string[]): ServiceRole {
  if (args.length === 0) return 'all';
  if (args.length === 1 && (args[0] === 'api' || args[0] === 'worker')) return args[0];
  process.stderr.write(`skiff: unexpected arguments ${JSON.stringify(args)}\n${USAGE}\n`);
  process.exit(2);
}

function serviceConfig(service: Service): Config {
  if (service.config === undefined) return loadConfigOrExit();
  // A fork uses the Redis its supervisor found or started, whatever the settings it was given say.
  const redisUrl = cluster.isWorker ? process.env.REDIS_URL : undefined;
  return redisUrl === undefined ? service.config : { ...service.config, redisUrl };
}

/** For the main process: one line on stderr and exit 1 (a start-up problem an operator must fix; retrying cannot). */
function refuseToStart(reason: string): never {
  process.stderr.write(`skiff: ${reason}\n`);
  process.exit(1);
}

/** The supervisor over this entry module's forks; resolves with the exit code once stopped. */
async function supervise(config: Config, role: ServiceRole): Promise<number> {
  const log = createLogger(config.logLevel, { role: 'supervisor' });
  const { cluster: c } = config;
  const exec = process.argv[1];
  // Queue workers alone take Redis from the settings and wait for it (alive, not crashed) while it is away.
  if (role === 'worker') return runSupervisor([{ name: 'worker', exec, count: c.workerConcurrency }], c, log);
  // Before Redis and the workers: a taken address is one line now, not a crash loop of workers later.
  const listenFd = takeListenFd();
  const taken = (listenFd === null ? await checkListen(apiAddress(config)) : null) ?? await checkListen(metricsAddress(config));
  if (taken !== null) refuseToStart(taken);
  // One Redis for every process: a private redis-server is started here, once, not per worker.
  const redisHost = await ensureRedis(config.redisUrl, privateRedisDir(), log, { topology: config.redisTopology });
  const env: Record<string, string> = redisHost.url === '' ? {} : { REDIS_URL: redisHost.url };
  const groups: WorkerGroup[] = [{ name: 'api', exec, count: c.webConcurrency, env, maxRequests: c.maxRequests, maxRequestsJitter: c.maxRequestsJitter }];
  if (role === 'all') groups.push({ name: 'worker', exec, count: c.workerConcurrency, env });
  const code = await runSupervisor(groups, c, log, listenFd);
  await redisHost.stop();
  return code;
}
