// Overload protection (what @fastify/under-pressure does): when the event loop runs late, the heap is nearly
// full or too many requests are in flight, new requests are refused with 503 + Retry-After before routing, so
// a server past its capacity sheds load at the cost of a prebuilt answer instead of queueing work it cannot do.
// The HTTP core consults `admit` first thing for every request (createApp({ admit })).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { HttpError } from '../errors.ts';

/** RFC 9457 problem type the rate-limit headers draft registers for a server shedding load. */
export const REDUCED_CAPACITY_TYPE = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

export interface OverloadOptions {
  /** Refuse while the event loop is this late (ms); 0: never on this ground. */
  maxEventLoopDelayMs: number;
  /** Refuse while the V8 heap in use passes this many bytes; 0: never on this ground. */
  maxHeapUsedBytes: number;
  /** Refuse while this many requests are in flight in this process; 0: not counted. */
  maxInFlight: number;
  /** How often delay and heap are sampled (ms); a refusal lasts at least until the next sample. */
  sampleIntervalMs: number;
  /** Paths always admitted (the health probes, which report the overload instead). */
  exempt?: readonly string[];
}

export type OverloadReason = 'event-loop-delay' | 'heap' | 'in-flight';

export interface OverloadStatus {
  overloaded: boolean;
  reason: OverloadReason | null;
  /** How late the sampler's last timer fired, or how late the pending one is already (ms). */
  eventLoopDelayMs: number;
  heapUsedBytes: number;
  /** Requests in flight (counted only when maxInFlight is set). */
  inFlight: number;
}

export interface OverloadGuard {
  /** For createApp({ admit }): null admits (and counts) the request; an error is the answer. */
  admit(req: IncomingMessage, res: ServerResponse, path: string): HttpError | null;
  status(): OverloadStatus;
  /** Requests refused so far, by reason. */
  rejected(): Record<OverloadReason, number>;
  /** Stops the sampler. */
  stop(): void;
}

const DETAIL: Record<OverloadReason, string> = {
  'event-loop-delay': 'The server is overloaded (its event loop runs late) and refused the request before handling it; retry after Retry-After.',
  heap: 'The server is overloaded (its memory is nearly full) and refused the request before handling it; retry after Retry-After.',
  'in-flight': 'The server is overloaded (too many requests in flight) and refused the request before handling it; retry after Retry-After.',
};

export function createOverloadGuard(options: OverloadOptions): OverloadGuard {
  const { maxEventLoopDelayMs, maxHeapUsedBytes, maxInFlight, sampleIntervalMs } = options;
  const exempt = new Set(options.exempt ?? []);
  const retryAfter = String(Math.max(1, Math.ceil(sampleIntervalMs / 1000)));
  // Built once: under overload a refusal must cost next to nothing.
  const refusals = Object.fromEntries((Object.keys(DETAIL) as OverloadReason[]).map((reason) => [reason,
    HttpError.of('OVERLOADED', DETAIL[reason], { headers: { 'retry-after': retryAfter }, type: REDUCED_CAPACITY_TYPE })])) as Record<OverloadReason, HttpError>;
  const rejected: Record<OverloadReason, number> = { 'event-loop-delay': 0, heap: 0, 'in-flight': 0 };
  let delayMs = 0;
  let heapUsed = getHeapStatistics().used_heap_size;
  let inFlight = 0;
  let due = performance.now() + sampleIntervalMs;
  let timer: NodeJS.Timeout | null = null;

  function sample(): void {
    const now = performance.now();
    delayMs = Math.max(0, now - due);
    heapUsed = getHeapStatistics().used_heap_size;
    due = now + sampleIntervalMs;
    timer = setTimeout(sample, sampleIntervalMs);
    timer.unref();
  }
  timer = setTimeout(sample, sampleIntervalMs);
  timer.unref();

  /** The last sample's delay, or how late the pending sample already is: a loop blocked right now is late now. */
  const currentDelay = (): number => Math.max(delayMs, performance.now() - due);

  function reason(): OverloadReason | null {
    if (timer === null) return null;
    if (maxEventLoopDelayMs > 0 && currentDelay() > maxEventLoopDelayMs) return 'event-loop-delay';
    if (maxHeapUsedBytes > 0 && heapUsed > maxHeapUsedBytes) return 'heap';
    if (maxInFlight > 0 && inFlight >= maxInFlight) return 'in-flight';
    return null;
  }

  const settle = (): void => void inFlight--;

  return {
    admit(_req, res, path) {
      if (exempt.has(path)) return null;
      const why = reason();
      if (why !== null) {
        rejected[why]++;
        return refusals[why];
      }
      if (maxInFlight > 0) {
        inFlight++;
        res.once('close', settle);
      }
      return null;
    },
    status() {
      const why = reason();
      return { overloaded: why !== null, reason: why, eventLoopDelayMs: Math.round(currentDelay()), heapUsedBytes: heapUsed, inFlight };
    },
    rejected: () => ({ ...rejected }),
    stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
