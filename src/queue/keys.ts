// Every Redis key (and channel) of a queue. All keys of one queue share the `{queue}` hash tag, so each
// script's keys live in one slot and run unchanged on Redis Cluster.

export interface QueueKeys {
  /**
   * What every key of the queue starts with (`<prefix>q:{queue}:`). The scripts derive from it the keys they
   * touch per job or per status: `job:<id>`, `status:<status>`, `paused`, `minutes`, `worker-info`.
   */
  readonly base: string;
  /**
   * Stream of runnable jobs; entries carry only the job id. A settled entry is acknowledged, not deleted: each
   * settle trims the stream below its oldest pending entry (settleJobs-5). The scripts that retire an entry
   * otherwise (an abort, the start of a job that already ended, the re-queue of a stalled one) delete it.
   */
  readonly stream: string;
  /**
   * The stream of each priority, in the order workers prefer them: `stream:high`, `stream` (normal: the jobs that
   * give no priority use the stream above, as they did before priorities), `stream:low`. Each has the group.
   */
  readonly streams: Readonly<Record<Priority, string>>;
  /** The one consumer group every worker of the queue reads through (on each priority's stream). */
  readonly group: string;
  /** Sorted set of deferred and retrying job ids, scored by when they are due (ms). */
  readonly delayed: string;
  /** Stream of jobs that failed for good (capped at DEAD_LETTER_MAX entries). */
  readonly dead: string;
  /** Hash of counters: processed, failed, retried, replayed. */
  readonly stats: string;
  /** Sorted set of live workers, scored by when they count as gone (ms); `queue check` reads it. */
  readonly workers: string;
  /**
   * Sorted set of processes following job events, scored by when each registration lapses (ms). The hot scripts
   * (start, settle) publish job events only while it has a live member: most jobs have no listener.
   */
  readonly listeners: string;
  /**
   * Per-status index: sorted set of job ids scored by when each entered the status (ms), kept by the scripts
   * that move jobs (lua/lib/indexes.lua); the terminal ones are trimmed to the queue's retention.
   */
  status(status: IndexedStatus): string;
  /** Integer: where in the priority cycle (lua/lib/indexes.lua, PICK) the next start of startJobs-4 falls. */
  readonly turn: string;
  /**
   * Sorted set of the jobs held back by their group's concurrency limit (scored by when each was parked, ms):
   * queued jobs outside the stream, listed and counted as `waiting` (lua/lib/groups.lua).
   */
  readonly waiting: string;
  /** Set of the jobs holding one of the group's slots: running, or queued again and next to run (lua/lib/groups.lua). */
  groupRunning(group: string): string;
  /**
   * Sorted set of the group's parked jobs of one priority, in stream order: `group-waiting:<group>` for normal (as
   * before priorities), `group-waiting-high:<group>`, `group-waiting-low:<group>`. A slot that frees goes to the
   * first job of the level the group's cycle picks (lua/lib/groups.lua, groupNext).
   */
  groupWaiting(group: string, priority: Priority): string;
  /** Integer: where in the priority cycle the group's next hand-off falls; kept only while it has parked jobs. */
  groupTurn(group: string): string;
  /**
   * List of the starts a rate-limited queue made within its window, one 'ms count' item per startJobs-4 call that
   * started jobs, oldest first, on Redis's clock; expires a window after the last start.
   */
  readonly rate: string;
  /** Set while the queue is paused: startJobs-4 starts nothing. */
  readonly paused: string;
  /**
   * String: the partition count (QUEUE_PARTITIONS) the queue's first process recorded; every process compares its
   * own with it at start (Queue.checkPartitions). Read in partition 0's key set, the queue's own.
   */
  readonly partitionCount: string;
  /** Hash: processed and failed jobs per minute, a 60-slot ring (lua/lib/indexes.lua). */
  readonly minutes: string;
  /** Hash: consumer → JSON of what operators see of it (host, pid, running, jobs, beat), written by heartbeat-2. */
  readonly workerInfo: string;
  /** Pub/sub channel on which abort requests for running jobs reach their workers (message: job id). */
  readonly abortChannel: string;
  /** Prefix of job hashes; a job's events are published on a channel named like its hash. */
  readonly jobPrefix: string;
  job(id: string): string;
  /** String naming the job enqueued under an idempotency key, per owner ('' for none): ids stay random. */
  idempotency(owner: string, key: string): string;
  /**
   * String naming the live job a dedupe key resolves to, per owner and job name; the job's hash names the key back
   * (`dedupe`), the scripts that start or end it delete the key (lua/lib/indexes.lua, releaseDedupe), and an
   * operator's retry or replay of it sets the key again if free (lua/lib/dedupe.lua, retakeDedupe).
   */
  dedupe(owner: string, job: string, key: string): string;
}

/**
 * Statuses with an index. Queued jobs are the stream's undelivered entries and running ones the group's pending
 * list, so the hot path keeps no index for them; `dead` is the dead-letter stream itself.
 */
export const INDEXED_STATUSES = ['deferred', 'retrying', 'complete', 'failed', 'aborted'] as const;
export type IndexedStatus = (typeof INDEXED_STATUSES)[number];

/** Priority levels, highest first; a job gives one (default `normal`) and waits in that level's stream. */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const GROUP = 'workers';
/** Approximate cap of the dead-letter stream (MAXLEN ~): the oldest letters go first. */
export const DEAD_LETTER_MAX = 10_000;

/**
 * The key a dedupe key was given as (`dedupe(owner, job, key)`'s `key`), read back from the Redis key a job hash names
 * in `dedupe` (after its mode character); null for one not of this queue's form.
 */
export function dedupeKeyGiven(base: string, redisKey: string): string | null {
  const prefix = `${base}dedupe:`;
  if (!redisKey.startsWith(prefix)) return null;
  let at = prefix.length;
  // Two length-prefixed parts (owner, job name), then the key.
  for (let part = 0; part < 2; part++) {
    const colon = redisKey.indexOf(':', at);
    const length = Number(redisKey.slice(at, colon));
    if (colon < 0 || !Number.isInteger(length) || redisKey[colon + 1 + length] !== ':') return null;
    at = colon + length + 2;
  }
  return redisKey.slice(at);
}

export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${prefix}q:{${queue}}:`;
  const jobPrefix = `${base}job:`;
  return {
    base,
    stream: `${base}stream`,
    streams: { high: `${base}stream:high`, normal: `${base}stream`, low: `${base}stream:low` },
    turn: `${base}turn`,
    group: GROUP,
    delayed: `${base}delayed`,
    dead: `${base}dead`,
    stats: `${base}stats`,
    workers: `${base}workers`,
    listeners: `${base}listeners`,
    status: (status) => `${base}status:${status}`,
    waiting: `${base}waiting`,
    // The group's name last: no two groups' keys can be spelled alike.
    groupRunning: (group) => `${base}group-running:${group}`,
    groupWaiting: (group, priority) => `${base}group-waiting${priority === 'normal' ? '' : `-${priority}`}:${group}`,
    groupTurn: (group) => `${base}group-turn:${group}`,
    rate: `${base}rate`,
    paused: `${base}paused`,
    partitionCount: `${base}partitions`,
    minutes: `${base}minutes`,
    workerInfo: `${base}worker-info`,
    abortChannel: `${base}abort`,
    jobPrefix,
    job: (id) => jobPrefix + id,
    // The owner's length first, so no owner and key pair can spell another's.
    idempotency: (owner, key) => `${base}idem:${owner.length}:${owner}:${key}`,
    dedupe: (owner, job, key) => `${base}dedupe:${owner.length}:${owner}:${job.length}:${job}:${key}`,
  };
}
