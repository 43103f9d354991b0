// Public face of cluster mode: the supervisor (primary side), the worker link (worker side)
// and the systemd conventions (socket activation, readiness).
import cluster from 'node:cluster';
import type { ClusterConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { WORKER_ENV } from './protocol.ts';
import { startSupervisor, type WorkerGroup } from './supervisor.ts';
import { systemdNotifier, takeListenFd } from './systemd.ts';

export { startSupervisor, type Supervisor, type SupervisorOptions, type WorkerGroup } from './supervisor.ts';
export { joinSupervisor, type WorkerLink, type JoinOptions } from './worker.ts';
export { takeListenFd, systemdNotifier, type Notify } from './systemd.ts';
export { checkListen, describeListenError, type ListenAddress } from './address.ts';

export type ListenTarget = { fd: number } | { host: string; port: number };

/** Where an HTTP worker listens: the socket systemd passed to the primary, else host and port. */
export function listenTarget(host: string, port: number, env: NodeJS.ProcessEnv = process.env): ListenTarget {
  const fd = env[WORKER_ENV.listenFd];
  return fd ? { fd: Number(fd) } : { host, port };
}

/** In a worker process, the name of the group the supervisor forked it in; null in the main process. */
export function workerGroup(env: NodeJS.ProcessEnv = process.env): string | null {
  return cluster.isWorker ? env[WORKER_ENV.group] ?? null : null;
}

/**
 * For entry points: supervises `groups` with the timeouts from the environment, passing on a socket systemd passed
 * (`takeListenFd()`) and reporting readiness to systemd; resolves with the exit code once stopped.
 */
export function runSupervisor(groups: WorkerGroup[], settings: ClusterConfig, log: Logger, listenFd: number | null = takeListenFd()): Promise<number> {
  return startSupervisor({
    groups,
    log,
    gracefulTimeoutMs: settings.gracefulTimeoutMs,
    workerTimeoutMs: settings.workerTimeoutMs,
    listenFd,
    notify: systemdNotifier(log),
  }).done;
}
