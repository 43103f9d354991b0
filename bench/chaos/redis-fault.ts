// Redis hung (SIGSTOP) or restarted (graceful stop, down a while, started again on its port with its AOF) under
// open-loop mixed load: cached reads, writes with and without Idempotency-Key, exports, job status and events,
// probes. Measured: the longest any request started during the fault waited (the promise: the Redis bound), which
// writes answered 503 were applied anyway (each write carries a unique fingerprint, looked up afterwards), what a
// client retrying each 503 with the same Idempotency-Key ends up with (duplicates), and what became of the jobs.
import http from 'node:http';
import { exportsByTag, itemsByName, jobReader, seedItems, settleJobs, type JobFate } from './inspect.ts';
import { CLIENT_TIMEOUT_MS, maxOf, openLoop, percentile, send, sleep, type Call, type LoadClient, type Outcome } from './load.ts';
import { API_KEY, type Stack } from './stack.ts';

export type RedisFault = 'hang' | 'restart';

export interface RedisFaultOptions {
  fault: RedisFault;
  /** How long Redis is stopped (hang) or down (restart). */
  faultMs: number;
  /** Load before and after the fault. */
  calmMs: number;
  /** Multiplies every client's request rate. */
  rateScale: number;
  /** How long a client keeps retrying a 503 with its Idempotency-Key. */
  retryForMs: number;
}

export interface RouteFigures {
  requests: number;
  /** Requests sent during the fault. */
  during: number;
  maxMsDuring: number;
  /** Answers by status, over the whole run (0: no answer). */
  statuses: Record<string, number>;
  /** Writes of this route answered 503 and applied anyway (before any retry). */
  applied503: number;
}

export interface RedisFaultResult {
  fault: RedisFault;
  faultMs: number;
  boundMs: number;
  requests: number;
  /** The longest a request sent while Redis was stopped or down waited for its answer. */
  maxWaitMsDuring: number;
  /** The 99th percentile of those waits: an outlier of a loaded machine shows as max ≫ p99. */
  p99MsDuring: number;
  slowestRoute: string;
  routes: Record<string, RouteFigures>;
  /** 5xx other than 503, and requests with no answer at all. */
  errors: number;
  writes503: { withoutKey: number; withKey: number };
  /** Writes answered 503 whose fingerprint exists afterwards (before any retry). */
  appliedAfter503: { withoutKey: number; withKey: number };
  /** Keyed 503s retried with the same key until answered otherwise; resources created more than once. */
  retried: number;
  retriesUnanswered: number;
  duplicatesAfterRetry: number;
  jobs: JobFate;
}

const SEED = 200;

function clients(seed: string[], run: string, scale: number, exportIds: () => string[]): LoadClient[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const auth = { 'x-api-key': API_KEY };
  const write = (keyed: boolean) => (i: number): Call => {
    const fingerprint = `${run}-item${keyed ? 'k' : ''}-${i}`;
    return { method: 'POST', path: '/v1/items', body: { name: fingerprint, price: 1, tags: ['chaos'] }, fingerprint, headers: keyed ? { ...auth, 'idempotency-key': fingerprint } : auth };
  };
  const exporter = (keyed: boolean) => (i: number): Call => {
    const fingerprint = `${run}-export${keyed ? 'k' : ''}-${i}`;
    return { method: 'POST', path: '/v1/exports', body: { format: 'ndjson', tag: fingerprint }, fingerprint, headers: keyed ? { ...auth, 'idempotency-key': fingerprint } : auth };
  };
  const someJob = () => pick(exportIds()) ?? 'none';
  const list: LoadClient[] = [
    { name: 'GET /v1/items', ratePerS: 15, next: () => ({ method: 'GET', path: '/v1/items?tag=seed&limit=10' }) },
    { name: 'GET /v1/items/{id}', ratePerS: 15, next: () => ({ method: 'GET', path: `/v1/items/${pick(seed)}` }) },
    { name: 'POST /v1/items', ratePerS: 6, next: write(false) },
    { name: 'POST /v1/items (key)', ratePerS: 4, next: write(true) },
    { name: 'POST /v1/exports', ratePerS: 3, next: exporter(false) },
    { name: 'POST /v1/exports (key)', ratePerS: 2, next: exporter(true) },
    // Jobs are visible to the key that enqueued them.
    { name: 'GET /v1/jobs/{id}', ratePerS: 3, next: () => ({ method: 'GET', path: `/v1/jobs/${someJob()}`, headers: auth }) },
    { name: 'GET /v1/jobs/{id}/events', ratePerS: 2, next: () => ({ method: 'GET', path: `/v1/jobs/${someJob()}/events`, headers: auth, sse: true }) },
    { name: 'GET /readyz', ratePerS: 2, next: () => ({ method: 'GET', path: '/readyz' }) },
    { name: 'GET /healthz', ratePerS: 2, next: () => ({ method: 'GET', path: '/healthz' }) },
  ];
  return list.map((c) => ({ ...c, ratePerS: c.ratePerS * scale }));
}

const isWrite = (o: Outcome) => o.fingerprint !== undefined;
const isKeyed = (o: Outcome) => o.headers?.['idempotency-key'] !== undefined;

/**
 * Retries a call with its own Idempotency-Key until it is answered with anything but 503, or 409 (the key is held
 * by an earlier run of the request until its lease lapses), or no answer.
 */
async function retryUntilAnswered(base: string, agent: http.Agent, first: Outcome, forMs: number): Promise<Outcome | null> {
  const deadline = Date.now() + forMs;
  let last: Outcome = first;
  while (Date.now() < deadline) {
    const retryAfterS = Number(last.responseHeaders['retry-after']);
    await sleep(Number.isFinite(retryAfterS) ? Math.min(1000, Math.max(100, retryAfterS * 1000)) : 200);
    last = await send(base, agent, first, 'retry');
    if (last.status !== 503 && last.status !== 409 && last.status !== 0) return last;
  }
  return null;
}

export async function redisFaultScenario(stack: Stack, options: RedisFaultOptions): Promise<RedisFaultResult> {
  const run = `${options.fault}${Date.now().toString(36)}`;
  const seed = await seedItems(stack.redis.client, SEED);
  // Acknowledged export ids, as they come: the job routes ask about them, and their jobs must all end.
  const acceptedExports: string[] = [];
  const accepted = new Set<string>();
  const noteExport = (o: Outcome | null) => {
    const id = o?.path === '/v1/exports' && o.status === 202 ? (JSON.parse(o.text) as { id: string }).id : undefined;
    if (id !== undefined && !accepted.has(id)) {
      accepted.add(id);
      acceptedExports.push(id);
    }
  };
  const load = openLoop(stack.url, clients(seed, run, options.rateScale, () => acceptedExports));
  const done: Outcome[] = [];
  const collect = setInterval(() => {
    for (const o of load.outcomes.splice(0)) {
      done.push(o);
      noteExport(o);
    }
  }, 50);
  let faultStart = 0;
  let faultEnd = 0;
  try {
    await sleep(options.calmMs);
    faultStart = Date.now();
    if (options.fault === 'hang') {
      stack.redis.pause();
      await sleep(options.faultMs);
      faultEnd = Date.now();
      stack.redis.resume();
    } else {
      await stack.redis.restart(options.faultMs);
      faultEnd = Date.now();
    }
    await sleep(options.calmMs);
  } finally {
    stack.redis.resume();
    clearInterval(collect);
    for (const o of await load.stop()) {
      done.push(o);
      noteExport(o);
    }
  }

  const routes: Record<string, RouteFigures> = {};
  const duringFault = (o: Outcome) => o.start >= faultStart && o.start < faultEnd;
  for (const o of done) {
    const r = (routes[o.client] ??= { requests: 0, during: 0, maxMsDuring: 0, statuses: {}, applied503: 0 });
    r.requests++;
    r.statuses[o.status] = (r.statuses[o.status] ?? 0) + 1;
    if (duringFault(o)) {
      r.during++;
      r.maxMsDuring = Math.max(r.maxMsDuring, Math.round(o.ms));
    }
  }
  const slowest = Object.entries(routes).sort((a, b) => b[1].maxMsDuring - a[1].maxMsDuring)[0];

  // Let anything a server still holds reach Redis, then look every 503'd write up by its fingerprint.
  await sleep(Math.min(2000, stack.boundMs * 2));
  const answered503 = done.filter((o) => isWrite(o) && o.status === 503);
  const exists = async () => {
    const [names, tags] = await Promise.all([itemsByName(stack.redis.client), exportsByTag(stack.redis.client)]);
    return (o: Outcome) => (o.path === '/v1/items' ? names : tags).get(o.fingerprint!) ?? 0;
  };
  const countBefore = await exists();
  const applied503 = answered503.filter((o) => countBefore(o) > 0);
  for (const o of applied503) routes[o.client].applied503++;
  const applied = (keyed: boolean) => applied503.filter((o) => isKeyed(o) === keyed).length;

  // A careful client: every keyed 503 retried with the same key and body until it is answered.
  const agent = new http.Agent({ keepAlive: true });
  const keyed503 = answered503.filter(isKeyed);
  const retries = await Promise.all(keyed503.map((o) => retryUntilAnswered(stack.url, agent, o, options.retryForMs)));
  agent.destroy();
  retries.forEach(noteExport);
  const countAfter = await exists();
  const keyedWrites = done.filter((o) => isWrite(o) && isKeyed(o));
  const duplicates = keyedWrites.reduce((sum, o) => sum + Math.max(0, countAfter(o) - 1), 0);

  return {
    fault: options.fault,
    faultMs: options.faultMs,
    boundMs: stack.boundMs,
    requests: done.length,
    maxWaitMsDuring: maxOf(Object.values(routes).map((r) => r.maxMsDuring)),
    p99MsDuring: Math.round(percentile(done.filter(duringFault).map((o) => o.ms), 99)),
    slowestRoute: slowest?.[0] ?? '',
    routes,
    errors: done.filter((o) => o.status === 0 || (o.status >= 500 && o.status !== 503)).length,
    writes503: { withoutKey: answered503.length - keyed503.length, withKey: keyed503.length },
    appliedAfter503: { withoutKey: applied(false), withKey: applied(true) },
    retried: keyed503.length,
    retriesUnanswered: retries.filter((r) => r === null).length,
    duplicatesAfterRetry: duplicates,
    jobs: await settleJobs(jobReader(stack.redis.client), acceptedExports, Math.max(30_000, CLIENT_TIMEOUT_MS)),
  };
}
