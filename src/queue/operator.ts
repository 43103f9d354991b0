// What operators do to a queue (the admin router's work, also usable from code): counts, throughput and workers;
// jobs by status a page at a time; one job in full; retry, delete, promote, pause, resume, drain. Every call is
// bounded like the producer's (HttpError 503 when Redis does not answer), and every action is idempotent and
// answers what it did as counts. On a partitioned queue every call is its partitions' calls merged (bottom of
// this file): counts summed, listings merged newest first, actions on ids sent to the partitions holding them.
import { dedupeKeyGiven, INDEXED_STATUSES, PRIORITIES, type Priority } from './keys.ts';
import { partitionIndex } from './partitions.ts';
import { JOB_ID_PATTERN, type Queue } from './queue.ts';
import { runScript, SCRIPTS } from './scripts.ts';

/**
 * The statuses operators list and count: queued (the stream), waiting (queued jobs parked behind their group's
 * concurrency limit), in_progress (pending list), the indexed ones, dead letters.
 */
export const OPERATOR_STATUSES = ['queued', 'waiting', 'in_progress', ...INDEXED_STATUSES, 'dead'] as const;
export type OperatorStatus = (typeof OPERATOR_STATUSES)[number];

export interface QueueOverview {
  name: string;
  paused: boolean;
  counts: Record<OperatorStatus, number>;
  /** Ms the oldest queued job has waited (0: none waits). */
  oldestWaitingMs: number;
  /** The last 60 minutes, oldest first: processed (completed) and failed (for good) jobs per minute. */
  throughput: { minute: number; processed: number; failed: number }[];
  workers: WorkerView[];
}

export interface WorkerView {
  consumer: string;
  host: string | null;
  pid: number | null;
  /** Attempts it owns (running or prefetched). */
  running: number;
  /** Up to 20 of their job ids. */
  jobs: string[];
  lastHeartbeat: number | null;
}

/** The dedupe key a job was enqueued with (`dedupe`), as given, and its mode. */
export interface DedupeView {
  mode: 'throttle' | 'debounce';
  key: string;
}

/** What a job was enqueued with that decides when it runs: its level, its group, its dedupe key. */
export interface JobTraits {
  priority: Priority;
  group: string | null;
  dedupe: DedupeView | null;
}

export interface JobRow extends JobTraits {
  id: string;
  name: string;
  status: string;
  attempt: number;
  maxTries: number;
  /** When it entered the status it is listed under (ms). */
  enteredAt: number;
  enqueuedAt: number | null;
  finishedAt: number | null;
  error: string | null;
}

export interface JobPage {
  jobs: JobRow[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface AttemptView {
  attempt: number;
  worker: string | null;
  startedAt: number | null;
  endedAt: number | null;
  /** complete | retry | fail | abort | release (shutdown, not counted) | lost (worker died) | running. */
  outcome: string;
}

export interface JobDetail extends JobTraits {
  id: string;
  name: string;
  status: string;
  attempt: number;
  maxTries: number;
  owner: string | null;
  /** The group's concurrency limit it was enqueued with; null without a group. */
  groupConcurrency: number | null;
  /** Whether its dedupe key resolves to it now (an enqueue with the key would be deduped into it). */
  holdsDedupe: boolean;
  payload: unknown;
  result: unknown;
  error: string | null;
  stack: string | null;
  progress: number | null;
  enqueuedAt: number | null;
  scheduledFor: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: AttemptView[];
  logs: unknown[];
  /** Whether its dead letter is still in the dead-letter stream. */
  dead: boolean;
}

/** Page sizes and the most index rows one listing looks at (a name filter may skip many). */
export const MAX_PAGE = 200;
const LIST_BUDGET = 2000;
/** Ids per script call of a bulk action, and the most jobs one request acts on (the answer says what remains). */
const BATCH = 100;
export const MAX_PER_REQUEST = 5000;

const JOB_ID = new RegExp(JOB_ID_PATTERN);
const num = (v: string | null | undefined): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
const json = (v: string | null | undefined): unknown => {
  if (v === null || v === undefined) return null;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};

/** Cursors are opaque to clients: base64url of '<score> <id>' (indexes) or of the dead letter's entry id. */
const encodeCursor = (text: string): string => Buffer.from(text).toString('base64url');
const decodeCursor = (cursor: string, form: RegExp): RegExpExecArray | null => form.exec(Buffer.from(cursor, 'base64url').toString());
const INDEX_CURSOR = /^(\d+) ([A-Za-z0-9_-]{1,64})$/;
const ENTRY_CURSOR = /^(\d+-\d+)$/;
/** Queued jobs are ordered by (entry, priority rank: 0 high … 2 low), newest first: the streams' entries can tie. */
const QUEUED_CURSOR = /^(\d+-\d+) ([0-2])$/;
/** Running jobs listed at most (the pending list holds workers × their slots). */
const MAX_PENDING_LISTED = 10_000;

/** Whether stream entry id `a` is older than `b`. */
const olderEntry = (a: string, b: string): boolean => {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am < bm || (am === bm && as < bs);
};

export class InvalidCursor extends Error {}

/** The job hash fields `traits` reads, in its order. */
const TRAIT_FIELDS = ['prio', 'group', 'dedupe'];

/** A job's traits from its hash fields `prio`, `group`, `dedupe` (absent: normal, none, none). */
function traits(base: string, [prio, group, dedupe]: (string | null | undefined)[]): JobTraits {
  const key = dedupe ? dedupeKeyGiven(base, dedupe.slice(1)) : null;
  return {
    priority: (prio ?? 'normal') as Priority,
    group: group ?? null,
    dedupe: key === null ? null : { mode: dedupe![0] === 't' ? 'throttle' : 'debounce', key },
  };
}

const FINAL_OUTCOMES: Record<string, string | undefined> = { complete: 'complete', failed: 'fail', aborted: 'abort' };

export class QueueOperator {
  /** A partitioned queue's operators, one per partition; null for a queue of one. */
  readonly #parts: PartitionOperators | null;

  constructor(readonly queue: Queue) {
    this.#parts = queue.partitions.length > 1 ? new PartitionOperators(queue.partitions.map((p) => new QueueOperator(p))) : null;
  }

  get name(): string {
    return this.queue.name;
  }

  async overview(): Promise<QueueOverview> {
    if (this.#parts !== null) return this.#parts.overview(this.name);
    const { queue } = this;
    const { redis, keys: k } = queue;
    const now = queue.clock.now();
    const [stats, cards, paused, minutes, live] = await Promise.all([
      queue.stats(),
      queue.bounded(Promise.all(INDEXED_STATUSES.map((s) => redis.zCard(k.status(s))))),
      queue.bounded(redis.exists(k.paused)),
      queue.bounded(redis.hGetAll(k.minutes)),
      queue.bounded(redis.zRangeByScore(k.workers, now, '+inf')),
    ]);
    const shown = live.length > 0 ? await queue.bounded(redis.hmGet(k.workerInfo, live)) : [];
    const counts = Object.fromEntries(INDEXED_STATUSES.map((s, i) => [s, cards[i]])) as Record<OperatorStatus, number>;
    counts.queued = stats.queued;
    counts.waiting = stats.waiting;
    counts.in_progress = stats.inProgress;
    counts.dead = stats.dead;
    const current = Math.floor(now / 60_000);
    const throughput = [];
    for (let minute = current - 59; minute <= current; minute++) {
      const slot = minute % 60;
      const held = minutes[`m${slot}`] === String(minute);
      throughput.push({ minute: minute * 60_000, processed: held ? Number(minutes[`p${slot}`]) : 0, failed: held ? Number(minutes[`f${slot}`]) : 0 });
    }
    return {
      name: queue.name,
      paused: paused === 1,
      counts,
      oldestWaitingMs: stats.oldestQueuedMs,
      throughput,
      workers: live.map((consumer, i) => workerView(consumer, shown[i])),
    };
  }

  /** A page of jobs in one status, newest first; `name` keeps only jobs of that name. */
  async list(status: OperatorStatus, options: { cursor?: string; limit?: number; name?: string } = {}): Promise<JobPage> {
    const limit = Math.min(Math.max(1, options.limit ?? 50), MAX_PAGE);
    if (this.#parts !== null) return this.#parts.list(status, { ...options, limit });
    if (status === 'dead') return this.#listDead(limit, options.cursor, options.name);
    if (status === 'queued') return this.#listQueued(limit, options.cursor, options.name);
    if (status === 'in_progress') return this.#listRunning(limit, options.cursor, options.name);
    const { queue } = this;
    let score = '+inf';
    let after = '';
    if (options.cursor !== undefined) {
      const parsed = decodeCursor(options.cursor, INDEX_CURSOR);
      if (parsed === null) throw new InvalidCursor();
      [, score, after] = parsed;
    }
    const index = status === 'waiting' ? queue.keys.waiting : queue.keys.status(status);
    const reply = await queue.bounded(runScript<string[]>(queue.redis, SCRIPTS.listJobs, [index], [
      queue.keys.jobPrefix, score, after, String(limit), options.name ?? '', String(LIST_BUDGET),
    ]));
    const ids: string[] = [];
    const entered: number[] = [];
    for (let i = 2; i < reply.length; i += 2) {
      ids.push(reply[i]);
      entered.push(Number(reply[i + 1]));
    }
    const rows = await this.#rows(ids);
    return {
      jobs: rows.flatMap((row, i) => (row === null ? [] : [{ ...row, enteredAt: entered[i] }])),
      nextCursor: reply[0] === '' ? null : encodeCursor(`${reply[0]} ${reply[1]}`),
    };
  }

  async #rows(ids: string[]): Promise<(Omit<JobRow, 'enteredAt'> | null)[]> {
    const { redis, keys: k } = this.queue;
    const fields = await this.queue.bounded(Promise.all(ids.map((id) =>
      redis.hmGet(k.job(id), ['name', 'status', 'attempt', 'max_tries', 'enqueued_at', 'finished_at', 'error', ...TRAIT_FIELDS]))));
    return fields.map((f, i) => (f[1] === null ? null : {
      id: ids[i], name: f[0] ?? '', status: f[1], attempt: Number(f[2] ?? 0), maxTries: Number(f[3] ?? 0),
      enqueuedAt: num(f[4]), finishedAt: num(f[5]), error: f[6] ?? null, ...traits(k.base, f.slice(7)),
    }));
  }

  /**
   * Dead letters, newest first: the dead-letter stream read backwards from the cursor's entry. Traits come from the
   * job's record while it lasts, else from the letter (which carries those the job had: what its replay runs with).
   */
  #listDead(limit: number, cursor: string | undefined, name: string | undefined): Promise<JobPage> {
    const { redis, keys: k } = this.queue;
    return this.#pageBackwards(this.#endAt(cursor), limit, name, async (to) => {
      const letters = (await this.queue.bounded(redis.sendCommand(['XREVRANGE', k.dead, to, '-', 'COUNT', String(limit)]))) as [string, string[]][];
      const fields = letters.map(([, list]) => {
        const f: Record<string, string> = {};
        for (let i = 0; i < list.length; i += 2) f[list[i]] = list[i + 1];
        return f;
      });
      const held = await this.queue.bounded(Promise.all(fields.map((f) => redis.hmGet(k.job(f.id), TRAIT_FIELDS))));
      return letters.map(([entry], i) => {
        const f = fields[i];
        return [entry, {
          id: f.id, name: f.name, status: 'dead', attempt: Number(f.max_tries), maxTries: Number(f.max_tries),
          enteredAt: Number(f.failed_at), enqueuedAt: null, finishedAt: Number(f.failed_at), error: f.error ?? null,
          ...traits(k.base, TRAIT_FIELDS.map((field, j) => held[i][j] ?? f[field])),
        }];
      });
    });
  }

  /** The group's last delivered entry on each priority's stream, highest priority first. */
  async #delivered(): Promise<{ stream: string; rank: number; delivered: string }[]> {
    const { queue } = this;
    return Promise.all(PRIORITIES.map(async (priority, rank) => {
      const stream = queue.keys.streams[priority];
      const groups = (await queue.bounded(queue.redis.sendCommand(['XINFO', 'GROUPS', stream]).catch(() => []))) as Record<string, unknown>[];
      return { stream, rank, delivered: String(groups.find((g) => g.name === queue.keys.group)?.['last-delivered-id'] ?? '0-0') };
    }));
  }

  /** Queued jobs of every priority, newest first: each stream's entries after the group's last delivered one. */
  async #listQueued(limit: number, cursor: string | undefined, name: string | undefined): Promise<JobPage> {
    const { queue } = this;
    let start = '+';
    if (cursor !== undefined) {
      const parsed = decodeCursor(cursor, QUEUED_CURSOR);
      if (parsed === null) throw new InvalidCursor();
      start = parsed[0];
    }
    const levels = await this.#delivered();
    return this.#pageBackwards(start, limit, name, async (position) => {
      const [at, atRank] = position.split(' ');
      // Past (at, atRank) in (entry, rank) order: a stream of a lower rank may still hold `at` itself.
      const pages = await queue.bounded(Promise.all(levels.map(async ({ stream, rank, delivered }) => {
        const to = at === '+' ? '+' : rank < Number(atRank) ? at : `(${at}`;
        const entries = (await queue.redis.sendCommand(['XREVRANGE', stream, to, `(${delivered}`, 'COUNT', String(limit)])) as [string, string[]][];
        return entries.map(([entry, fields]) => ({ entry, rank, id: fields[1] }));
      })));
      const page = pages.flat().sort((a, b) => (a.entry === b.entry ? b.rank - a.rank : olderEntry(a.entry, b.entry) ? 1 : -1)).slice(0, limit);
      const rows = await this.#rows(page.map((e) => e.id));
      // An entry's id is Redis's clock when it was added: when the job (re-)entered the queue.
      return page.map(({ entry, rank }, i) => [`${entry} ${rank}`, rows[i]?.status === 'queued' ? { ...rows[i]!, enteredAt: Number(entry.split('-')[0]) } : null, `${entry} ${rank}`]);
    });
  }

  /** Running jobs, newest delivery first: the group's pending list (bounded by workers × their slots). */
  async #listRunning(limit: number, cursor: string | undefined, name: string | undefined): Promise<JobPage> {
    const { queue } = this;
    const { redis, keys: k } = queue;
    const lists = await queue.bounded(Promise.all(PRIORITIES.map(async (priority) => {
      const stream = k.streams[priority];
      const entries = (await redis.sendCommand(['XPENDING', stream, k.group, '-', '+', String(MAX_PENDING_LISTED)]).catch(() => [])) as [string][];
      return entries.map(([entry]) => ({ entry, stream }));
    })));
    const pending = lists.flat().sort((a, b) => (olderEntry(a.entry, b.entry) ? 1 : -1));
    const before = cursor === undefined ? null : this.#endAt(cursor).slice(1);
    let from = before === null ? 0 : pending.findIndex(({ entry }) => olderEntry(entry, before));
    if (from < 0) from = pending.length;
    return this.#pageBackwards(`${from}`, limit, name, async (at) => {
      const start = Number(at);
      const entries = pending.slice(start, start + limit);
      const ids = await queue.bounded(Promise.all(entries.map(({ entry, stream }) => redis.sendCommand(['XRANGE', stream, entry, entry]) as Promise<[string, string[]][]>)));
      const rows = await this.#rows(ids.map((found) => found[0]?.[1][1] ?? ''));
      const started = await queue.bounded(Promise.all(rows.map((r) => (r === null ? Promise.resolve(null) : redis.hGet(k.job(r.id), 'started_at')))));
      // The position after each entry is the next call's start; the cursor handed out is the entry itself.
      return entries.map(({ entry }, i) => [entry, rows[i]?.status === 'in_progress' ? { ...rows[i]!, enteredAt: Number(started[i]) } : null, `${start + i + 1}`]);
    });
  }

  /** The exclusive end of a backwards read from a stream cursor ('+' for the first page). */
  #endAt(cursor: string | undefined): string {
    if (cursor === undefined) return '+';
    const parsed = decodeCursor(cursor, ENTRY_CURSOR);
    if (parsed === null) throw new InvalidCursor();
    return `(${parsed[1]}`;
  }

  /**
   * Pages a stream-ordered listing newest first: `read(position)` gives up to a page of [entry, row or null
   * (not listed), next position] from `position` on, fewer at the end. Looks at LIST_BUDGET entries at most.
   */
  async #pageBackwards(position: string, limit: number, name: string | undefined,
    read: (position: string) => Promise<[entry: string, row: JobRow | null, next?: string][]>): Promise<JobPage> {
    const jobs: JobRow[] = [];
    let seen = 0;
    let last: string | null = null;
    for (;;) {
      const batch = await read(position);
      for (const [entry, row, next] of batch) {
        seen++;
        last = entry;
        position = next ?? `(${entry}`;
        if (row !== null && (name === undefined || row.name === name)) jobs.push(row);
        if (jobs.length >= limit || seen >= LIST_BUDGET) return { jobs, nextCursor: encodeCursor(last) };
      }
      if (batch.length < limit) return { jobs, nextCursor: null };
    }
  }

  /** One job in full, or null for an unknown, malformed or expired id. */
  async job(id: string): Promise<JobDetail | null> {
    if (!JOB_ID.test(id)) return null;
    if (this.#parts !== null) return this.#parts.holding(id).job(id);
    const { redis, keys: k } = this.queue;
    const h = await this.queue.bounded(redis.hGetAll(k.job(id)));
    if (h.status === undefined) return null;
    const attempts: AttemptView[] = (h.history ?? '').split('\n').filter((l) => l !== '').map((line) => {
      const [attempt, worker, startedAt, endedAt, outcome] = line.split(' ');
      return { attempt: Number(attempt), worker: worker === '-' ? null : worker, startedAt: num(startedAt === '-' ? null : startedAt), endedAt: num(endedAt), outcome };
    });
    // The history holds the attempts that did not end the job; the running or final one is the job's own fields.
    const attempt = Number(h.attempt);
    const final = FINAL_OUTCOMES[h.status];
    const last = attempts.at(-1);
    if (h.status === 'in_progress' || (final !== undefined && h.started_at !== undefined && attempt > (last?.attempt ?? 0))) {
      attempts.push({
        attempt, worker: h.worker ?? null, startedAt: num(h.started_at),
        endedAt: h.status === 'in_progress' ? null : num(h.finished_at), outcome: final ?? 'running',
      });
    }
    const [letter, dedupeHolder] = await this.queue.bounded(Promise.all([
      h.letter === undefined ? [] : redis.sendCommand(['XRANGE', k.dead, h.letter, h.letter]) as Promise<unknown[]>,
      h.dedupe === undefined ? null : redis.get(h.dedupe.slice(1)),
    ]));
    return {
      id, name: h.name, status: h.status, attempt: Number(h.attempt), maxTries: Number(h.max_tries), owner: h.owner ?? null,
      ...traits(k.base, TRAIT_FIELDS.map((f) => h[f])), groupConcurrency: h.group === undefined ? null : Number(h.group_max), holdsDedupe: dedupeHolder === id,
      payload: json(h.payload), result: json(h.result), error: h.error ?? null, stack: h.stack ?? null, progress: num(h.progress),
      enqueuedAt: num(h.enqueued_at), scheduledFor: num(h.scheduled_for), startedAt: num(h.started_at), finishedAt: num(h.finished_at),
      attempts,
      logs: (h.logs ?? '').split('\n').filter((l) => l !== '').map(json),
      dead: letter.length > 0,
    };
  }

  /** Failed jobs (dead letters included) run again as fresh jobs under their ids; other statuses are skipped. */
  async retry(ids: string[]): Promise<{ retried: number; skipped: number }> {
    if (this.#parts !== null) return this.#parts.byId(ids, (o, some) => o.retry(some));
    const { queue } = this;
    let retried = 0;
    let skipped = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH).filter((id) => JOB_ID.test(id));
      skipped += Math.min(BATCH, ids.length - i) - batch.length;
      if (batch.length === 0) continue;
      const [r, s] = await queue.bounded(runScript<[number, number]>(queue.redis, SCRIPTS.retryJobs, [queue.keys.stream, queue.keys.dead], [
        queue.keys.base, String(queue.clock.now()), ...batch,
      ]));
      retried += r;
      skipped += s;
    }
    return { retried, skipped };
  }

  /**
   * Every failed job (`failed`), or every dead letter, oldest first (`dead`: replayed from the letter, also when
   * the job's record expired), up to MAX_PER_REQUEST; `remaining` says how many are left for another call. Only
   * what had failed when the call began: a retried job that fails again meanwhile is not retried again.
   */
  async retryAll(status: 'failed' | 'dead'): Promise<{ retried: number; skipped: number; remaining: number }> {
    if (this.#parts !== null) return this.#parts.each((o) => o.retryAll(status));
    const { queue } = this;
    const { redis, keys: k } = queue;
    let retried = 0;
    let skipped = 0;
    if (status === 'dead') {
      const newest = (await queue.bounded(redis.sendCommand(['XREVRANGE', k.dead, '+', '-', 'COUNT', '1']))) as [string][];
      if (newest.length === 0) return { retried, skipped, remaining: 0 };
      const upTo = newest[0][0];
      // Each call takes BATCH letters; one whose job was re-run meanwhile is dropped, not replayed.
      for (let calls = 0; calls < MAX_PER_REQUEST / BATCH; calls++) {
        retried += await queue.replayDead(BATCH, upTo);
        const left = (await queue.bounded(redis.sendCommand(['XRANGE', k.dead, '-', upTo, 'COUNT', '1']))) as unknown[];
        if (left.length === 0) return { retried, skipped, remaining: 0 };
      }
      const [length, newer] = await queue.bounded(Promise.all([
        redis.xLen(k.dead), redis.sendCommand(['XRANGE', k.dead, `(${upTo}`, '+', 'COUNT', String(MAX_PER_REQUEST + 1)]) as Promise<unknown[]>,
      ]));
      return { retried, skipped, remaining: Math.max(0, length - newer.length) };
    }
    const index = k.status('failed');
    const began = String(queue.clock.now());
    while (retried + skipped < MAX_PER_REQUEST) {
      // Skipped rows stay in the index (none should: retryJobs only skips a job that is not failed); step past them.
      const ids = await queue.bounded(redis.zRangeByScore(index, '-inf', began, { LIMIT: { offset: skipped, count: BATCH } }));
      if (ids.length === 0) break;
      const done = await this.retry(ids);
      retried += done.retried;
      skipped += done.skipped;
    }
    return { retried, skipped, remaining: await queue.bounded(redis.zCount(index, '-inf', began)) };
  }

  /** Deletes jobs that are not running (their record, index entries, stream entry or schedule). */
  async delete(ids: string[], waitingOnly = false): Promise<{ deleted: number; running: number }> {
    if (this.#parts !== null) return this.#parts.byId(ids, (o, some) => o.delete(some, waitingOnly));
    const { queue } = this;
    let deleted = 0;
    let running = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH).filter((id) => JOB_ID.test(id));
      if (batch.length === 0) continue;
      const [d, r] = await queue.bounded(runScript<[number, number]>(queue.redis, SCRIPTS.deleteJobs, [queue.keys.stream, queue.keys.delayed], [
        queue.keys.base, queue.keys.group, waitingOnly ? '1' : '0', ...batch,
      ]));
      deleted += d;
      running += r;
    }
    return { deleted, running };
  }

  /** Deletes every waiting job (queued, parked, deferred, retrying), up to MAX_PER_REQUEST; `remaining` is what is left. */
  async drain(): Promise<{ deleted: number; remaining: number }> {
    if (this.#parts !== null) return this.#parts.each((o) => o.drain());
    const { queue } = this;
    const { redis, keys: k } = queue;
    let deleted = 0;
    // Queued: each priority's undelivered entries, oldest first, from after the group's last delivered one.
    for (const { stream, delivered } of await this.#delivered()) {
      let from = `(${delivered}`;
      while (deleted < MAX_PER_REQUEST) {
        const entries = (await queue.bounded(redis.sendCommand(['XRANGE', stream, from, '+', 'COUNT', String(BATCH)]))) as [string, string[]][];
        if (entries.length === 0) break;
        deleted += (await this.delete(entries.map(([, fields]) => fields[1]), true)).deleted;
        from = `(${entries[entries.length - 1][0]}`;
      }
    }
    for (const index of [k.waiting, k.status('deferred'), k.status('retrying')]) {
      let missed = 0;
      while (deleted < MAX_PER_REQUEST) {
        const ids = await queue.bounded(redis.zRange(index, missed, missed + BATCH - 1));
        if (ids.length === 0) break;
        const done = await this.delete(ids, true);
        deleted += done.deleted;
        missed += ids.length - done.deleted;
      }
    }
    const [stats, deferred, retrying] = await Promise.all([
      queue.stats(), queue.bounded(redis.zCard(k.status('deferred'))), queue.bounded(redis.zCard(k.status('retrying'))),
    ]);
    return { deleted, remaining: stats.queued + stats.waiting + deferred + retrying };
  }

  /** A deferred or retrying job runs now; 0 when it was not waiting for its time. */
  async promote(id: string): Promise<number> {
    if (!JOB_ID.test(id)) return 0;
    if (this.#parts !== null) return this.#parts.holding(id).promote(id);
    const { queue } = this;
    return queue.bounded(runScript<number>(queue.redis, SCRIPTS.promoteJob, [queue.keys.delayed, queue.keys.stream], [
      queue.keys.base, String(queue.clock.now()), id,
    ]));
  }

  /** Workers finish what they hold and start nothing new until resume; enqueueing goes on. */
  async pause(): Promise<void> {
    await Promise.all(this.queue.partitions.map((p) => p.bounded(p.redis.set(p.keys.paused, '1'))));
  }

  async resume(): Promise<void> {
    await Promise.all(this.queue.partitions.map((p) => p.bounded(p.redis.del(p.keys.paused))));
  }
}

function workerView(consumer: string, shown: string | null | undefined): WorkerView {
  const info = (shown ? json(shown) : null) as { host?: string; pid?: number; running?: number; jobs?: string[]; beat?: number } | null;
  return { consumer, host: info?.host ?? null, pid: info?.pid ?? null, running: info?.running ?? 0, jobs: info?.jobs ?? [], lastHeartbeat: info?.beat ?? null };
}

/** Field-wise sums of count answers (`{ retried, skipped }`, `{ deleted, remaining }` …). */
function addCounts<T extends object>(answers: T[]): T {
  const total: Record<string, number> = { ...answers[0]! } as Record<string, number>;
  for (const answer of answers.slice(1)) for (const [k, v] of Object.entries(answer)) total[k] = (total[k] ?? 0) + (v as number);
  return total as T;
}

/**
 * A partitioned queue's operator calls, merged from one operator per partition. A listing's cursor is every
 * partition's own cursor in one (base64url of a JSON array: a cursor, '' for the first page, null once done).
 */
class PartitionOperators {
  constructor(readonly parts: QueueOperator[]) {}

  /** The operator of the partition holding job `id`. */
  holding(id: string): QueueOperator {
    return this.parts[partitionIndex(id, this.parts.length)]!;
  }

  /** `act` on each partition (one after the other: each is bounded per request), answers summed. */
  async each<T extends object>(act: (o: QueueOperator) => Promise<T>): Promise<T> {
    const answers: T[] = [];
    for (const o of this.parts) answers.push(await act(o));
    return addCounts(answers);
  }

  /** `act` on each partition with the ids it holds, answers summed. */
  byId<T extends object>(ids: string[], act: (o: QueueOperator, ids: string[]) => Promise<T>): Promise<T> {
    const held = this.parts.map((): string[] => []);
    for (const id of ids) held[partitionIndex(id, this.parts.length)]!.push(id);
    return this.each((o) => act(o, held[this.parts.indexOf(o)]!));
  }

  async overview(name: string): Promise<QueueOverview> {
    const all = await Promise.all(this.parts.map((o) => o.overview()));
    const workers = new Map<string, WorkerView>();
    for (const w of all.flatMap((o) => o.workers)) {
      const seen = workers.get(w.consumer);
      workers.set(w.consumer, seen === undefined ? { ...w } : {
        ...seen, running: seen.running + w.running, jobs: [...seen.jobs, ...w.jobs].slice(0, SHOWN_WORKER_JOBS),
        lastHeartbeat: Math.max(seen.lastHeartbeat ?? 0, w.lastHeartbeat ?? 0) || null,
      });
    }
    return {
      name,
      // Pause and resume act on every partition; a partition paused alone (an older process) shows as paused.
      paused: all.some((o) => o.paused),
      counts: addCounts(all.map((o) => o.counts)),
      oldestWaitingMs: Math.max(...all.map((o) => o.oldestWaitingMs)),
      throughput: all[0]!.throughput.map((t, i) => ({ minute: t.minute, ...addCounts(all.map((o) => { const { processed, failed } = o.throughput[i]!; return { processed, failed }; })) })),
      workers: [...workers.values()],
    };
  }

  /** The partitions' pages merged newest first (what each gave is taken in its order, so its cursor stays exact). */
  async list(status: OperatorStatus, options: { cursor?: string; limit: number; name?: string }): Promise<JobPage> {
    const cursors = options.cursor === undefined ? this.parts.map(() => '') : decodeCursors(options.cursor, this.parts.length);
    const page = (i: number, limit: number) => cursors[i] === null ? Promise.resolve({ jobs: [], nextCursor: null })
      : this.parts[i]!.list(status, { name: options.name, limit, ...(cursors[i] === '' ? {} : { cursor: cursors[i]! }) });
    const pages = await Promise.all(this.parts.map((_, i) => page(i, options.limit)));
    const taken = pages.map(() => 0);
    const jobs: JobRow[] = [];
    while (jobs.length < options.limit) {
      let newest = -1;
      pages.forEach((p, i) => {
        const head = p.jobs[taken[i]!];
        if (head !== undefined && (newest === -1 || head.enteredAt > pages[newest]!.jobs[taken[newest]!]!.enteredAt)) newest = i;
      });
      if (newest === -1) break;
      jobs.push(pages[newest]!.jobs[taken[newest]!++]!);
    }
    // A partition whose page was taken in part is read again up to what was taken, for the cursor after it.
    const next = await Promise.all(pages.map(async (p, i) =>
      taken[i] === p.jobs.length ? p.nextCursor : taken[i] === 0 ? cursors[i]! : (await page(i, taken[i]!)).nextCursor));
    return { jobs, nextCursor: next.every((c) => c === null) ? null : encodeCursor(JSON.stringify(next)) };
  }
}

/** Job ids a merged worker view shows (each partition's heartbeat shows up to 20). */
const SHOWN_WORKER_JOBS = 20;

function decodeCursors(cursor: string, n: number): (string | null)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw new InvalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== n || !parsed.every((c) => c === null || typeof c === 'string')) throw new InvalidCursor();
  return parsed as (string | null)[];
}
