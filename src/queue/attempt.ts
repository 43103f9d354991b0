// One attempt of a job inside a worker: what its handler sees as the JobContext, and how it ends — by the
// handler settling or by an interruption (timeout, abort, shutdown, lost lease), whichever comes first.
import type { Logger } from '../log.ts';
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
    return (this.#log ??= this.#parentLog.child({ job: this.jobId, job_name: this.name, attempt: this.attempt }));
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
