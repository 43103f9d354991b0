// The primary process: forks worker processes, keeps their number, replaces the dead, the blocked and the
// worn out, and turns signals into Gunicorn's verbs (HUP reload, TERM stop, TTIN/TTOU ±1).
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.ts';
import { isSkiffMessage, WORKER_ENV, type SupervisorMessage, type WorkerMessage } from './protocol.ts';
import type { Notify } from './systemd.ts';

export interface WorkerGroup {
  /** Role name, in logs and in the worker's SKIFF_WORKER_GROUP. */
  name: string;
  /** Module every worker of the group runs. */
  exec: string;
  args?: string[];
  count: number;
  env?: Record<string, string>;
  /** Replace a worker after this many requests plus 0..maxRequestsJitter; 0: never. */
  maxRequests?: number;
  maxRequestsJitter?: number;
}

export interface SupervisorOptions {
  /** The first group is the one SIGTTIN/SIGTTOU resize. */
  groups: WorkerGroup[];
  log: Logger;
  gracefulTimeoutMs: number;
  /** A ready worker silent (event loop blocked) longer than this is killed and replaced. */
  workerTimeoutMs: number;
  /** A worker not ready this long after its start is killed; default max(60 s, workerTimeoutMs). */
  bootTimeoutMs?: number;
  /** A worker dying before ready or sooner than this after its start counts as a crash; default 5 s. */
  minUptimeMs?: number;
  /** This many crashes in a row in one group stop everything with exit code 1; default 5. */
  crashLimit?: number;
  /** Passed to every worker as SKIFF_LISTEN_FD (systemd socket activation). */
  listenFd?: number | null;
  notify?: Notify;
  /** Handle SIGHUP, SIGTERM, SIGINT, SIGTTIN, SIGTTOU; default true. */
  handleSignals?: boolean;
}

export interface Supervisor {
  /** Resolves once every initial worker is ready. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code once every worker is gone: 0 after stop(), 1 after a crash loop. */
  readonly done: Promise<number>;
  reload(): Promise<void>;
  stop(): Promise<number>;
  resize(delta: number): void;
  pids(group?: string): number[];
}

type State = 'starting' | 'ready' | 'stopping';

interface Member {
  readonly worker: Worker;
  readonly group: GroupState;
  readonly spawnedAt: number;
  state: State;
  /** Said `waiting`: alive and started, its backing service not reachable yet. */
  waiting: boolean;
  lastBeat: number;
  readonly ready: Promise<boolean>;
  settleReady: (ok: boolean) => void;
  killTimer: NodeJS.Timeout | null;
}

interface GroupState {
  readonly spec: WorkerGroup;
  target: number;
  /** Extra workers allowed while a replacement starts. */
  surge: number;
  crashes: number;
  respawnTimer: NodeJS.Timeout | null;
}

interface Gathering {
  readonly requester: Member;
  readonly waiting: Set<number>;
  readonly data: unknown[];
  readonly timer: NodeJS.Timeout;
  readonly replyId: number;
}

const MAX_BACKOFF_MS = 10_000;
const GATHER_TIMEOUT_MS = 1_000;

export function startSupervisor(options: SupervisorOptions): Supervisor {
  if (!cluster.isPrimary) throw new Error('startSupervisor() must run in the primary process');
  const { log, gracefulTimeoutMs, workerTimeoutMs } = options;
  const bootTimeoutMs = options.bootTimeoutMs ?? Math.max(60_000, workerTimeoutMs);
  const minUptimeMs = options.minUptimeMs ?? 5_000;
  const crashLimit = options.crashLimit ?? 5;
  const notify = options.notify ?? (() => {});
  const heartbeatMs = Math.max(10, Math.floor(workerTimeoutMs / 4));

  const groups: GroupState[] = options.groups.map((spec) => ({ spec, target: spec.count, surge: 0, crashes: 0, respawnTimer: null }));
  const members = new Map<number, Member>();
  const gatherings = new Map<number, Gathering>();
  let gatherSeq = 0;
  let workerSeq = 0;
  let shuttingDown = false;
  let exitCode = 0;
  let reloading: Promise<void> | null = null;
  let reloadAgain = false;

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const live = (group: GroupState) => [...members.values()].filter((m) => m.group === group && m.state !== 'stopping');
  const fields = (m: Member) => ({ group: m.group.spec.name, pid: m.worker.process.pid, worker: m.worker.id });

  function spawn(group: GroupState): Member {
    const { spec } = group;
    const env: Record<string, string> = { ...spec.env, [WORKER_ENV.group]: spec.name, [WORKER_ENV.heartbeatMs]: String(heartbeatMs) };
    if (spec.maxRequests) {
      env[WORKER_ENV.maxRequests] = String(spec.maxRequests + Math.floor(Math.random() * ((spec.maxRequestsJitter ?? 0) + 1)));
    }
    if (options.listenFd != null) env[WORKER_ENV.listenFd] = String(options.listenFd);
    cluster.setupPrimary({ exec: spec.exec, args: spec.args ?? [] });
    const worker = cluster.fork({ ...env, [WORKER_ENV.id]: String(++workerSeq) });
    let settleReady!: (ok: boolean) => void;
    const ready = new Promise<boolean>((r) => (settleReady = r));
    const now = Date.now();
    const member: Member = { worker, group, spawnedAt: now, state: 'starting', waiting: false, lastBeat: now, ready, settleReady, killTimer: null };
    members.set(worker.id, member);
    worker.on('message', (msg: unknown) => onMessage(member, msg));
    worker.once('exit', (code, signal) => onExit(member, code, signal));
    // A send to a worker that just died fails with EPIPE; its exit is handled by onExit.
    worker.on('error', (err) => log.debug('worker channel error', { ...fields(member), err: err.message }));
    log.debug('worker started', fields(member));
    return member;
  }

  function send(m: Member, msg: SupervisorMessage): void {
    if (m.worker.isConnected()) m.worker.send(msg);
  }

  function onMessage(m: Member, msg: unknown): void {
    if (!isSkiffMessage(msg)) return;
    m.lastBeat = Date.now();
    const message = msg as WorkerMessage;
    switch (message.skiff) {
      case 'ready':
        if (m.state === 'starting' || m.waiting) {
          m.state = 'ready';
          m.waiting = false;
          log.info('worker ready', fields(m));
        }
        m.settleReady(true);
        return checkAllReady();
      case 'waiting':
        // Started, not crashed: it stays (watched by its heartbeat, not the boot timeout) and logs its own retries.
        if (m.state !== 'starting') return;
        m.state = 'ready';
        m.waiting = true;
        log.warn('worker started, waiting for its backing service', { ...fields(m), reason: message.reason });
        m.settleReady(true);
        return checkAllReady();
      case 'fatal':
        if (shuttingDown) return;
        log.error('a worker cannot start and a new one would fail the same way; stopping', { ...fields(m), reason: message.reason });
        void shutdown(1);
        return;
      case 'retire':
        if (m.state === 'ready' && !shuttingDown) {
          log.info('worker reached MAX_REQUESTS, replacing it', fields(m));
          void replace(m);
        }
        return;
      case 'gather':
        return gather(m, message.id);
      case 'collected':
        return collected(m, message.id, message.data);
      case 'beat':
        return;
    }
  }

  function onExit(m: Member, code: number | null, signal: string | null): void {
    members.delete(m.worker.id);
    if (m.killTimer) clearTimeout(m.killTimer);
    const wasReady = m.state !== 'starting';
    m.settleReady(false);
    for (const [id, g] of gatherings) if (g.waiting.delete(m.worker.id)) finishGatherIfComplete(id, g);
    const info = { ...fields(m), code, signal };
    if (m.state === 'stopping' || shuttingDown) {
      log.info('worker exited', info);
    } else {
      const uptime = Date.now() - m.spawnedAt;
      const crashed = !wasReady || uptime < minUptimeMs;
      m.group.crashes = crashed ? m.group.crashes + 1 : 0;
      log.warn('worker died', { ...info, uptime_ms: uptime, crashes: m.group.crashes });
      if (m.group.crashes >= crashLimit) {
        log.error('crash loop: workers keep dying, stopping', { group: m.group.spec.name, crashes: m.group.crashes });
        void shutdown(1);
      } else {
        const delay = crashed ? Math.min(100 * 2 ** (m.group.crashes - 1), MAX_BACKOFF_MS) : 0;
        scheduleReconcile(m.group, delay);
      }
    }
    if (shuttingDown && members.size === 0) finish();
  }

  function scheduleReconcile(group: GroupState, delayMs: number): void {
    if (group.respawnTimer) clearTimeout(group.respawnTimer);
    group.respawnTimer = setTimeout(() => {
      group.respawnTimer = null;
      reconcile(group);
    }, delayMs);
  }

  /** Brings the group to its target count: spawns what is missing, retires the oldest extras. */
  function reconcile(group: GroupState): void {
    if (shuttingDown) return;
    const current = live(group);
    const want = group.target + group.surge;
    for (let n = current.length; n < want; n++) spawn(group);
    for (const m of current.slice(0, Math.max(0, current.length - want))) retire(m);
  }

  /** Asks a worker to drain and exit; kills it if it has not within the graceful timeout. */
  function retire(m: Member): void {
    if (m.state === 'stopping') return;
    const wasStarting = m.state === 'starting';
    m.state = 'stopping';
    log.info('retiring worker', fields(m));
    // A worker still booting may not listen for messages yet; SIGTERM reaches it either way.
    if (wasStarting) m.worker.process.kill('SIGTERM');
    else send(m, { skiff: 'stop' });
    m.killTimer = setTimeout(() => {
      log.warn('worker did not drain within GRACEFUL_TIMEOUT, killing it', fields(m));
      m.worker.process.kill('SIGKILL');
    }, gracefulTimeoutMs);
  }

  /** Starts a replacement, waits until it is ready, then retires the old worker. */
  async function replace(old: Member): Promise<boolean> {
    const group = old.group;
    group.surge++;
    const fresh = spawn(group);
    const ok = await fresh.ready;
    group.surge--;
    if (ok && members.has(old.worker.id)) retire(old);
    if (!shuttingDown) reconcile(group);
    return ok;
  }

  async function reloadAll(): Promise<void> {
    log.info('reloading: replacing workers one by one');
    notify({ RELOADING: '1', STATUS: 'reloading' });
    let failed = false;
    for (const group of groups) {
      for (const old of live(group)) {
        if (shuttingDown) return;
        if (!members.has(old.worker.id) || old.state === 'stopping') continue;
        if (!(await replace(old))) {
          log.error('reload aborted: a new worker failed to start; the others keep running', { group: group.spec.name });
          failed = true;
          break;
        }
      }
    }
    if (!failed) log.info('reload complete', { pids: pids() });
    notify({ READY: '1', STATUS: status() });
  }

  function reload(): Promise<void> {
    if (shuttingDown) return Promise.resolve();
    if (reloading) {
      reloadAgain = true;
      return reloading;
    }
    reloading = (async () => {
      do {
        reloadAgain = false;
        await reloadAll();
      } while (reloadAgain && !shuttingDown);
      reloading = null;
    })();
    return reloading;
  }

  function resize(delta: number): void {
    if (shuttingDown) return;
    const group = groups[0];
    group.target = Math.max(1, group.target + delta);
    log.info('worker count changed', { group: group.spec.name, count: group.target });
    reconcile(group);
    notify({ STATUS: status() });
  }

  function gather(requester: Member, replyId: number): void {
    const id = ++gatherSeq;
    const targets = [...members.values()].filter((m) => m.group === requester.group && m.state === 'ready');
    const timer = setTimeout(() => finishGather(id), GATHER_TIMEOUT_MS);
    const g: Gathering = { requester, replyId, waiting: new Set(targets.map((m) => m.worker.id)), data: [], timer };
    gatherings.set(id, g);
    for (const m of targets) send(m, { skiff: 'collect', id });
    finishGatherIfComplete(id, g);
  }

  function collected(m: Member, id: number, data: unknown): void {
    const g = gatherings.get(id);
    if (!g || !g.waiting.delete(m.worker.id)) return;
    g.data.push(data);
    finishGatherIfComplete(id, g);
  }

  function finishGatherIfComplete(id: number, g: Gathering): void {
    if (g.waiting.size === 0) finishGather(id);
  }

  function finishGather(id: number): void {
    const g = gatherings.get(id);
    if (!g) return;
    gatherings.delete(id);
    clearTimeout(g.timer);
    send(g.requester, { skiff: 'gathered', id: g.replyId, data: g.data });
  }

  /** Kills workers whose event loop stopped answering, and workers that never became ready. */
  const watchInterval = Math.min(1000, heartbeatMs);
  let lastWatch = Date.now();
  const watchdog = setInterval(() => {
    const now = Date.now();
    const late = now - lastWatch > 2 * watchInterval;
    lastWatch = now;
    // When this process was starved itself, heartbeats may be waiting unread in the channel: judge next round.
    if (late) return;
    for (const m of members.values()) {
      const silentFor = now - m.lastBeat;
      if (m.state === 'ready' && silentFor > workerTimeoutMs) {
        log.error('worker timeout: event loop blocked, killing it', { ...fields(m), silent_ms: silentFor });
        m.worker.process.kill('SIGKILL');
      } else if (m.state === 'starting' && now - m.spawnedAt > bootTimeoutMs) {
        log.error('worker did not become ready in time, killing it', fields(m));
        m.worker.process.kill('SIGKILL');
      }
    }
  }, watchInterval);

  function status(): string {
    return groups.map((g) => `${g.spec.name}: ${live(g).length} workers`).join(', ');
  }

  function pids(group?: string): number[] {
    return [...members.values()]
      .filter((m) => m.state !== 'stopping' && (group === undefined || m.group.spec.name === group))
      .map((m) => m.worker.process.pid ?? 0);
  }

  function shutdown(code: number): Promise<number> {
    if (!shuttingDown) {
      shuttingDown = true;
      exitCode = code;
      log.info('stopping: draining workers', { graceful_timeout_ms: gracefulTimeoutMs });
      notify({ STOPPING: '1', STATUS: 'stopping' });
      clearInterval(watchdog);
      for (const g of groups) if (g.respawnTimer) clearTimeout(g.respawnTimer);
      for (const m of members.values()) retire(m);
      if (members.size === 0) finish();
    }
    return done;
  }

  function finish(): void {
    removeSignalHandlers();
    log.info('stopped', { code: exitCode });
    resolveDone(exitCode);
  }

  const onHup = () => void reload();
  let stopSignalAt = 0;
  const onTerm = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      // A second Ctrl-C stops waiting for the drain; one press can arrive twice (terminal and `tsx` relay).
      if (Date.now() - stopSignalAt < 1000) return;
      log.warn('second stop signal: killing workers', { signal });
      for (const m of members.values()) m.worker.process.kill('SIGKILL');
      return;
    }
    stopSignalAt = Date.now();
    log.info('stop signal', { signal });
    void shutdown(0);
  };
  const onTtin = () => resize(1);
  const onTtou = () => resize(-1);
  const handlers: [NodeJS.Signals, (signal: NodeJS.Signals) => void][] = [
    ['SIGHUP', onHup], ['SIGTERM', onTerm], ['SIGINT', onTerm], ['SIGTTIN', onTtin], ['SIGTTOU', onTtou],
  ];
  const removeSignalHandlers = () => { for (const [s, h] of handlers) process.off(s, h); };
  if (options.handleSignals !== false) {
    for (const [s, h] of handlers) process.on(s, h);
    // Who to signal: under npm the process tree has more than one node, and npm forwards only INT and TERM.
    log.info('supervisor started', { pid: process.pid, signals: 'TERM, INT: graceful stop; HUP: rolling reload; TTIN, TTOU: one worker more, fewer' });
  }

  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let wasAllReady = false;
  function checkAllReady(): void {
    if (wasAllReady || shuttingDown) return;
    if (!groups.every((g) => live(g).filter((m) => m.state === 'ready').length >= g.target)) return;
    wasAllReady = true;
    const waiting = [...members.values()].filter((m) => m.waiting).map((m) => m.worker.process.pid);
    log.info('all workers ready', waiting.length > 0 ? { pids: pids(), waiting } : { pids: pids() });
    notify({ READY: '1', STATUS: status() });
    resolveReady();
  }

  for (const group of groups) reconcile(group);

  return { ready, done, reload, stop: () => shutdown(0), resize, pids };
}
