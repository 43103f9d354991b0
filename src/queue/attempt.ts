// One attempt of a job inside a worker: what its handler sees as the JobContext, and how it ends — by the
// handler settling or by an interruption (timeout, abort, shutdown, lost lease), whichever comes first.
import type { LogFields, Logger } from '../log.ts';
import type { Redis } from '../redis/index.ts';
import type { JobContext, JobDefinition } from './job.ts';

export type InterruptKind = 'timeout' | 'abort' | 'shutdown' | 'lost';

/** Why an attempt's signal aborted; a handler sees it as `signal.reason`. */
export class JobInterrupted extends Error {
  override readonly name = 'JobInterrupted';
  constructor(readonly kind: InterruptKind, message: string) {
    super(message);
  }
}

/** Log lines one attempt records for the job (beyond them, lines still reach the process log). */
export const MAX_LOG_LINES = 200;
/** A recorded line longer than this keeps its level and the start of its message only. */
export const MAX_LOG_LINE_CHARS = 2000;

/**
 * The handler's `ctx.log`: every line goes to the process log as before, and info and above is also recorded
 * for the job's record (operators read it in the job detail). Recorded lines wait in the attempt until the next
 * write the worker makes anyway (a progress report, the settle), so logging costs no round trip of its own.
 */
class RecordingLogger implements Logger {
  constructor(readonly inner: Logger, readonly run: Attempt) {}

  get level() {
    return this.inner.level;
  }

  isEnabled(level: Parameters<Logger['isEnabled']>[0]): boolean {
    return this.inner.isEnabled(level);
  }

  debug(msg: string, fields?: LogFields): void {
    this.inner.debug(msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.inner.info(msg, fields);
    this.run.record('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.inner.warn(msg, fields);
    this.run.record('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.inner.error(msg, fields);
    this.run.record('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new RecordingLogger(this.inner.child(fields), this.run);
  }
}

/**
 * One run of a job in this worker, and the handler's JobContext. The signal and the child logger are made on
 * first use: most handlers touch neither, and per-job allocations bound the worker's throughput.
 */
export class Attempt implements JobContext {
  /** Set once the attempt ended, by its handler settling or by an interruption; whichever comes first wins. */
  ended = false;
  /** performance.now() when its handler started; 0 while it waits in the worker's prefetch buffer. */
  startedAt = 0;
  /** performance.now() past which the attempt times out (see #expire). */
  deadline = Infinity;
  #controller: AbortController | undefined;
  #interruption: JobInterrupted | undefined;
  #log: Logger | undefined;
  /** Recorded log lines (JSON) not yet written; undefined until the handler logs. */
  #lines: string[] | undefined;
  #recorded = 0;
  readonly #parentLog: Logger;
  readonly #report: (run: Attempt, value: number) => Promise<void>;

  constructor(
    readonly jobId: string,
    readonly entry: string,
    readonly attempt: number,
    readonly name: string,
    /** The payload JSON, until the handler starts. */
    public payload: string,
    readonly def: JobDefinition | undefined,
    readonly redis: Redis,
    parentLog: Logger,
    report: (run: Attempt, value: number) => Promise<void>,
  ) {
    this.#parentLog = parentLog;
    this.#report = report;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#interruption !== undefined) this.#controller.abort(this.#interruption);
    }
    return this.#controller.signal;
  }

  get log(): Logger {
    return (this.#log ??= new RecordingLogger(this.#parentLog.child({ job: this.jobId, job_name: this.name, attempt: this.attempt }), this));
  }

  /** Keeps a log line for the job's record, up to MAX_LOG_LINES per attempt. */
  record(level: 'info' | 'warn' | 'error', msg: string, fields?: LogFields): void {
    if (this.#recorded >= MAX_LOG_LINES || this.ended) return;
    this.#recorded++;
    let line: string;
    try {
      line = JSON.stringify({ t: Date.now(), level, msg, ...fields });
    } catch {
      line = '';
    }
    if (line === '' || line.length > MAX_LOG_LINE_CHARS) line = JSON.stringify({ t: Date.now(), level, msg: msg.slice(0, MAX_LOG_LINE_CHARS - 100), truncated: true });
    (this.#lines ??= []).push(line);
  }

  /** The recorded lines not yet written, one per line ('' none); the next write takes them. */
  takeLogs(): string {
    if (this.#lines === undefined) return '';
    const text = this.#lines.join('\n') + '\n';
    this.#lines = undefined;
    return text;
  }

  progress(value: number): Promise<void> {
    return this.#report(this, value);
  }

  /** Aborts the handler's signal (now, or when the handler first reads it). */
  interrupt(reason: JobInterrupted): void {
    this.#interruption = reason;
    this.#controller?.abort(reason);
  }

  /** Marks the attempt ended; false when it already was. */
  end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    return true;
  }
}
