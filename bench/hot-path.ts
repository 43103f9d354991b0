// `npm run bench:hot-path`: what a server process does per request above the HTTP parser and the kernel, in
// process: skiff's request handler and the hand-written node:http baseline, each given Node's own
// IncomingMessage (headers left raw, as the parser leaves them) and ServerResponse (written to sockets that
// discard the bytes), A/B interleaved. It resolves differences of tens of nanoseconds, which the end-to-end CPU
// per request of bench:http (this plus the parser, syscalls and loopback TCP both pay) cannot on a shared machine.
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createRequestHandler } from '../src/http/index.ts';
import { median, round2 } from './load.ts';
import { rawHandler } from './servers/raw-handler.ts';
import { app } from './servers/skiff-app.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const skiff: Handler = createRequestHandler({ app, cors: null });

/** Responses in flight at once (wrk -c50 keeps 50); each has its own socket, as on a server. */
const BATCH = 50;
let written = 0;
const sockets = Array.from({ length: BATCH }, () => {
  const socket = new Writable({
    decodeStrings: false, // a net.Socket writes strings as they are
    write(chunk: string | Buffer, _encoding, done) {
      written += chunk.length;
      done();
    },
  });
  return Object.assign(socket, { setTimeout: () => socket }) as unknown as Socket;
});
// What node:http's server does when a response has finished: the socket is free for the next one.
function onFinish(this: ServerResponse): void {
  this.detachSocket(this.socket!);
}
// Headers as wrk sends them; the parser hands them over raw and `req.headers` is built only when read.
const RAW_HEADERS = ['Host', '127.0.0.1:8080'];

function exchange(url: string, socket: Socket): [IncomingMessage, ServerResponse] {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(RAW_HEADERS, RAW_HEADERS.length);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = true;
  res.assignSocket(socket);
  res.on('finish', onFinish);
  return [req, res];
}

/** CPU time, not wall time: on a shared machine the process is descheduled at random, its CPU time is not. */
async function nsPerRequest(handler: Handler, url: string, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let done = 0; done < n; done += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      const [req, res] = exchange(url, sockets[i]);
      handler(req, res);
    }
    await new Promise((resolve) => setImmediate(resolve)); // the responses finish and free their sockets
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / n;
}

const n = 100_000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const result: Record<string, number> = {};
console.log(`# bench:hot-path — ${rounds} interleaved rounds × ${n} requests per handler, CPU ns per request (median); Node ${process.version}`);
for (const [name, url] of [['hello', '/hello'], ['item', '/items/42']]) {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const x = await nsPerRequest(rawHandler, url, n);
    const y = await nsPerRequest(skiff, url, n);
    if (r > 0) (a.push(x), b.push(y)); // the first round warms up the JIT
  }
  const adds = round2(median(b.map((y, i) => y - a[i])));
  console.log(`${url}: raw ${round2(median(a))} ns, skiff ${round2(median(b))} ns, skiff adds ${adds} ns (median of per-round differences)`);
  result[`skiff_minus_raw_ns_${name}`] = adds;
}
if (written === 0) throw new Error('nothing was written');
console.log(JSON.stringify(result));
