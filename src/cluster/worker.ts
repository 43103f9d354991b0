// The worker's side of the supervisor: readiness, heartbeat, retirement on request or after MAX_REQUESTS,
// and gathering sibling data (metrics). Works unsupervised too, so one entry module serves both ways.
import type { Logger } from '../log.ts';
import { errorFields } from '../log.ts';
import { isSkiffMessage, WORKER_ENV, type SupervisorMessage, type WorkerMessage } from './protocol.ts';

export interface WorkerLink {
  readonly supervised: boolean;
  /** Unique among the supervisor's workers ('0' unsupervised): a base for queue consumer names. */
  readonly id: string;
  readonly group: string;
  /** Tell the supervisor this worker is serving (listening / consuming). */
  ready(): void;
  /** Tell the supervisor this worker is alive but waiting for `reason` (Redis unreachable); `ready()` follows. */
  waiting(reason: string): void;
  /** A start-up failure a new worker would repeat (the address is taken): log it, make the supervisor stop, exit 1. */
  fatal(reason: string): void;
  /** Count one request towards MAX_REQUESTS. */
  served(): void;
  /** Every ready sibling's `collect()` answer, this worker's included; only its own when unsupervised. */
  gather(): Promise<unknown[]>;
  /** Drain and exit, as when the supervisor retires this worker. */
  stop(): Promise<void>;
}

export interface JoinOptions {
  log: Logger;
  /** Drain and release resources; the process exits 0 once it settles. */
  stop: () => Promise<void>;
  collect?: () => unknown;
}

const GATHER_TIMEOUT_MS = 2_000;

export function joinSupervisor(options: JoinOptions, env: NodeJS.ProcessEnv = process.env): WorkerLink {
  const { log } = options;
  const supervised = typeof process.send === 'function' && env[WORKER_ENV.group] !== undefined;
  const maxRequests = Number(env[WORKER_ENV.maxRequests] ?? 0);
  const collect = async () => (options.collect ? options.collect() : null);
  let served = 0;
  let retireAsked = false;
  let stopping: Promise<void> | null = null;
  let gatherSeq = 0;
  const pending = new Map<number, (data: unknown[]) => void>();

  const send = (msg: WorkerMessage) => {
    if (process.connected) process.send!(msg);
  };

  function stop(): Promise<void> {
    stopping ??= (async () => {
      try {
        await options.stop();
      } catch (err) {
        log.error('worker stop failed', errorFields(err));
      }
      process.exit(0);
    })();
    return stopping;
  }

  if (supervised) {
    const beat = setInterval(() => send({ skiff: 'beat' }), Number(env[WORKER_ENV.heartbeatMs] ?? 1000));
    beat.unref();
    process.on('message', (msg: unknown) => {
      if (!isSkiffMessage(msg)) return;
      const message = msg as SupervisorMessage;
      if (message.skiff === 'stop') void stop();
      else if (message.skiff === 'collect') void collect().then((data) => send({ skiff: 'collected', id: message.id, data }));
      else if (message.skiff === 'gathered') pending.get(message.id)?.(message.data);
    });
    // Ctrl-C (and a closing terminal) reaches the whole process group, `systemctl kill` the whole unit: the
    // supervisor orders drains and reloads, so these must neither stop nor suspend a worker.
    for (const signal of ['SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) process.on(signal, () => {});
  } else {
    process.on('SIGINT', () => void stop());
  }
  process.on('SIGTERM', () => void stop());

  return {
    supervised,
    id: env[WORKER_ENV.id] ?? '0',
    group: env[WORKER_ENV.group] ?? 'main',
    ready: () => send({ skiff: 'ready' }),
    waiting: (reason) => send({ skiff: 'waiting', reason }),
    fatal(reason) {
      log.error('cannot start', { reason });
      // Exit once the message is written, so the supervisor hears why before it sees the exit.
      if (supervised && process.connected) process.send!({ skiff: 'fatal', reason } satisfies WorkerMessage, () => process.exit(1));
      else process.exit(1);
    },
    served() {
      if (++served >= maxRequests && maxRequests > 0 && !retireAsked) {
        retireAsked = true;
        send({ skiff: 'retire' });
      }
    },
    async gather() {
      if (!supervised || !process.connected) return [await collect()];
      const id = ++gatherSeq;
      return new Promise<unknown[]>((resolve) => {
        const timer = setTimeout(() => settle([]), GATHER_TIMEOUT_MS);
        const settle = (data: unknown[]) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(data);
        };
        pending.set(id, settle);
        send({ skiff: 'gather', id });
      });
    },
    stop,
  };
}
