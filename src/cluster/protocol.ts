// What the supervisor and its workers say to each other: IPC messages tagged `skiff`, and the environment a
// worker is started with.

/** Worker → supervisor. Any message also counts as a heartbeat. */
export type WorkerMessage =
  | { skiff: 'ready' }
  /** Alive, but its backing service (Redis) is unreachable: started, not crashed; `ready` follows once it is. */
  | { skiff: 'waiting'; reason: string }
  /** Cannot start, and another try would fail the same way (the address is taken): stop everything. */
  | { skiff: 'fatal'; reason: string }
  | { skiff: 'beat' }
  /** MAX_REQUESTS reached: start my replacement, then retire me. */
  | { skiff: 'retire' }
  /** Ask every ready sibling of my group for its `collect()` answer (metrics aggregation). */
  | { skiff: 'gather'; id: number }
  | { skiff: 'collected'; id: number; data: unknown };

/** Supervisor → worker. */
export type SupervisorMessage =
  | { skiff: 'stop' }
  | { skiff: 'collect'; id: number }
  | { skiff: 'gathered'; id: number; data: unknown[] };

/** Environment variables the supervisor sets for each worker. */
export const WORKER_ENV = {
  group: 'SKIFF_WORKER_GROUP',
  /** Unique per process for the supervisor's lifetime (queue consumer names build on it). */
  id: 'SKIFF_WORKER_ID',
  heartbeatMs: 'SKIFF_HEARTBEAT_MS',
  /** This worker's request budget, jitter already applied; absent: unlimited. */
  maxRequests: 'SKIFF_MAX_REQUESTS',
  /** A listening socket to accept on instead of HOST:PORT (systemd socket activation). */
  listenFd: 'SKIFF_LISTEN_FD',
} as const;

export function isSkiffMessage(m: unknown): m is { skiff: string } {
  return typeof m === 'object' && m !== null && typeof (m as { skiff?: unknown }).skiff === 'string';
}
