// Runs the supervisor over test/support/cluster-worker.ts, configured from the environment like src/server.ts.
import { fileURLToPath } from 'node:url';
import { startSupervisor, takeListenFd } from '../../src/cluster/index.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';

const config = loadConfig();
const listenFd = takeListenFd();
const supervisor = startSupervisor({
  groups: [{
    name: 'web',
    exec: fileURLToPath(new URL('./cluster-worker.ts', import.meta.url)),
    count: config.cluster.webConcurrency,
    maxRequests: config.cluster.maxRequests,
    maxRequestsJitter: config.cluster.maxRequestsJitter,
  }],
  log: createLogger('info', { role: 'supervisor' }),
  gracefulTimeoutMs: config.cluster.gracefulTimeoutMs,
  workerTimeoutMs: config.cluster.workerTimeoutMs,
  minUptimeMs: Number(process.env.TEST_MIN_UPTIME_MS ?? 5000),
  crashLimit: Number(process.env.TEST_CRASH_LIMIT ?? 5),
  listenFd,
});
process.exitCode = await supervisor.done;
