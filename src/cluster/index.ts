// Public face of cluster mode: the supervisor (primary side), the worker link (worker side)
// and the systemd conventions (socket activation, readiness).
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
