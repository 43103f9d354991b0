// A worker's slot bookkeeping in one place: handlers running (at most maxJobs), attempts owned but not started
// (the prefetch buffer), and slots promised to reads still in flight, so that what the reads bring never
// overfills the worker. The worker asks it how much to read and whether an attempt may start.
export class WorkerSlots<T> {
  #running = 0;
  /** Owned attempts whose handler has not started, in the order they arrived. */
  #waiting: T[] = [];
  /** Slots promised to attempts being started: entries a read returned, and refill reads in flight. */
  #reserved = 0;
  /** Slots promised to the blocking read in flight. */
  #blocking = 0;

  constructor(readonly maxJobs: number) {}

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** Attempts running or waiting to run (ended ones waiting for their settle are not counted). */
  get owned(): number {
    return this.#running + this.#waiting.length;
  }

  /** COUNT for a blocking read: the free handler slots; none while other reads are in flight (they may fill them). */
  blockingReadSize(): number {
    return this.#reserved > 0 ? 0 : Math.max(0, this.maxJobs - this.owned);
  }

  /** COUNT for a refill read, so that owned attempts and every read in flight stay within `capacity`. */
  refillSize(capacity: number): number {
    return capacity - this.owned - this.#reserved - this.#blocking;
  }

  /** The blocking read asks for `count` (0 once it returned). */
  blockingRead(count: number): void {
    this.#blocking = count;
  }

  /** Holds `count` slots while their attempts are being started. */
  reserve(count: number): void {
    this.#reserved += count;
  }

  /** Gives back `count` reserved slots; true when no reservation is left (a blocking read may go). */
  unreserve(count: number): boolean {
    this.#reserved -= count;
    return this.#reserved === 0;
  }

  /** True: a handler slot is free and nothing waits for one, start it now. False: it waits (prefetched). */
  admit(attempt: T): boolean {
    if (this.#running < this.maxJobs && this.#waiting.length === 0) return true;
    this.#waiting.push(attempt);
    return false;
  }

  /** The next waiting attempt, when a handler slot is free. */
  nextWaiting(): T | undefined {
    return this.#running < this.maxJobs ? this.#waiting.shift() : undefined;
  }

  /** Every waiting attempt, taken out (a stopping worker releases them). */
  takeWaiting(): T[] {
    const waiting = this.#waiting;
    this.#waiting = [];
    return waiting;
  }

  /** A handler started. */
  started(): void {
    this.#running++;
  }

  /** A handler that started has ended. */
  ended(): void {
    this.#running--;
  }
}
