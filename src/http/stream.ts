// Streamed response bodies (ctx.stream): sent with backpressure, and released exactly once whatever happens.
// The release hangs on the response's 'close' event, which Node emits on every path (body ended, body threw,
// client reset before or during the body, HEAD, connections cut at the drain timeout). Piping a
// `Readable.from(generator)` is not enough: destroying it never resumes a generator that has not started, so
// its `finally` (and whatever the handler took before it) would never run.
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { errorFields, type Logger } from '../log.ts';
import type { StreamBody } from '../router/index.ts';

/** A stream body the core owns: its one iterator, and what ends it. */
export class HeldStream {
  readonly iterator: AsyncIterator<string | Buffer>;
  #released = false;

  constructor(
    readonly body: StreamBody,
    private readonly onClose: (() => void | Promise<void>) | undefined,
    private readonly log: () => Logger,
  ) {
    // Creating the iterator starts nothing (a generator runs from its first next()).
    this.iterator = body[Symbol.asyncIterator]();
  }

  /** Releases the body when `res` closes (at once if it already has). */
  bindTo(res: ServerResponse): this {
    if (res.closed) queueMicrotask(() => this.release());
    else res.once('close', () => this.release());
    return this;
  }

  /**
   * Destroys a Readable, asks an iterator to `return()` (queued behind a pending `next()`: a generator runs its
   * `finally` once it wakes), then runs `onClose`. Neither is awaited: a body that never wakes must not keep
   * what `onClose` releases.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.body instanceof Readable) this.body.destroy();
    this.#settle('stream return() failed', () => this.iterator.return?.());
    if (this.onClose !== undefined) this.#settle('stream onClose failed', this.onClose);
  }

  #settle(message: string, run: () => unknown): void {
    try {
      const result = run();
      if (result instanceof Promise) result.catch((err: unknown) => this.log().error(message, errorFields(err)));
    } catch (err) {
      this.log().error(message, errorFields(err));
    }
  }
}

/** Resolves once `res` can take more ('drain') or is gone ('close'). */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes the body's chunks as they come, waiting whenever the socket is full; ends the response after the last.
 * A body that throws is logged and the connection cut (the status line is long gone). Resolves `true` when the
 * response was ended normally.
 */
export async function pump(res: ServerResponse, stream: HeldStream, log: () => Logger): Promise<boolean> {
  try {
    while (!res.destroyed) {
      const step = await stream.iterator.next();
      if (res.destroyed) break;
      if (step.done === true) {
        res.end();
        return true;
      }
      if (!res.write(step.value)) await writable(res);
    }
  } catch (err) {
    log().error('response stream failed', errorFields(err));
    res.destroy();
  }
  return false;
}
