// Open-loop HTTP load over node:http keep-alive agents: each client issues requests at a fixed rate whether or not
// earlier ones have answered (a hung server does not slow the offered load down, as it would a closed loop), and
// every request gets a socket of its own when the others are busy, so no request waits in the client's queue and
// each latency is the server's.
import http from 'node:http';

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** An event stream: the latency is the time to its first event (or its end); then it is closed. */
  sse?: boolean;
  /** What this write creates, to look it up afterwards (a unique item name, a unique export tag). */
  fingerprint?: string;
}

export interface Outcome extends Call {
  client: string;
  /** Date.now() when the request was sent. */
  start: number;
  ms: number;
  /** 0: no answer (connection error or client timeout, see `error`). */
  status: number;
  error?: string;
  responseHeaders: http.IncomingHttpHeaders;
  text: string;
}

/** The latency past which a request is abandoned and counted as unanswered. */
export const CLIENT_TIMEOUT_MS = 30_000;

export function send(base: string, agent: http.Agent, call: Call, client = 'direct'): Promise<Outcome> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers: Record<string, string> = { ...call.headers };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const start = Date.now();
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number, responseHeaders: http.IncomingHttpHeaders, text: string, error?: string) => {
      if (done) return;
      done = true;
      resolve({ ...call, client, start, ms: performance.now() - t0, status, error, responseHeaders, text });
    };
    const req = http.request(`${base}${call.path}`, { method: call.method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const status = res.statusCode ?? 0;
      res.on('data', (chunk: string) => {
        text += chunk;
        if (call.sse && status === 200) {
          finish(status, res.headers, text);
          req.destroy();
        }
      });
      res.on('end', () => finish(status, res.headers, text));
      res.on('error', (err) => finish(0, res.headers, text, err.message));
    });
    req.setTimeout(CLIENT_TIMEOUT_MS, () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => finish(0, {}, '', err.message));
    req.end(payload);
  });
}

export interface LoadClient {
  name: string;
  ratePerS: number;
  /** The i-th request of this client. */
  next(i: number): Call;
}

export interface LoadRun {
  /** Every answered (or failed) request so far. */
  readonly outcomes: Outcome[];
  /** Stops sending, waits for what is in flight (each bounded by CLIENT_TIMEOUT_MS), closes the sockets. */
  stop(): Promise<Outcome[]>;
}

export function openLoop(base: string, clients: LoadClient[]): LoadRun {
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const agents: http.Agent[] = [];
  let running = true;
  for (const client of clients) {
    if (client.ratePerS <= 0) continue;
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);
    const interval = 1000 / client.ratePerS;
    const t0 = performance.now();
    let i = 0;
    const fire = () => {
      if (!running) return;
      const p = send(base, agent, client.next(i++), client.name).then((o) => void outcomes.push(o));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      // Due times are fixed from the start: a late tick fires at once, the rate never drifts down.
      const timer = setTimeout(() => {
        timers.delete(timer);
        fire();
      }, Math.max(0, t0 + i * interval - performance.now()));
      timers.add(timer);
    };
    fire();
  }
  return {
    outcomes,
    async stop() {
      running = false;
      for (const t of timers) clearTimeout(t);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      for (const agent of agents) agent.destroy();
      return outcomes;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export function maxOf(xs: number[]): number {
  return xs.reduce((m, x) => Math.max(m, x), 0);
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
