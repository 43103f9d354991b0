// Public face of cluster mode: the supervisor (primary side), the worker link (worker side), the HTTP drain
// order for zero failed requests, and the systemd conventions (socket activation, readiness).
import { WORKER_ENV } from './protocol.ts';

export { startSupervisor, type Supervisor, type SupervisorOptions, type WorkerGroup } from './supervisor.ts';
export { joinSupervisor, type WorkerLink, type JoinOptions } from './worker.ts';
export { drainHttpServer, type DrainOptions } from './drain.ts';
export { takeListenFd, systemdNotifier, type Notify } from './systemd.ts';

export type ListenTarget = { fd: number } | { host: string; port: number };

/** Where an HTTP worker listens: the socket systemd passed to the primary, else host and port. */
export function listenTarget(host: string, port: number, env: NodeJS.ProcessEnv = process.env): ListenTarget {
  const fd = env[WORKER_ENV.listenFd];
  return fd ? { fd: Number(fd) } : { host, port };
}
