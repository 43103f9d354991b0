// `npm run bench:hot-path`: what a server process does per request above the HTTP parser and the kernel, in
// process: skiff's request handler, the hand-written node:http baseline, and that baseline sending the headers skiff
// sends (request id, nosniff, CSP), each given Node's own IncomingMessage and ServerResponse
// (bench/support/in-process.ts), interleaved. It resolves differences of tens of nanoseconds, which the end-to-end
// CPU per request of bench:http (this plus the parser, syscalls and loopback TCP all pay) cannot on a shared machine.
import { createRequestHandler } from '../src/http/index.ts';
import { median, round2 } from './load.ts';
import { rawHandler, rawHandlerWithSkiffHeaders } from './servers/raw-handler.ts';
import { app } from './servers/skiff-app.ts';
import { assertWritten, serveInProcess, type Handler } from './support/in-process.ts';

const skiff: Handler = createRequestHandler({ app, cors: null });

/** CPU time, not wall time: on a shared machine the process is descheduled at random, its CPU time is not. */
async function nsPerRequest(handler: Handler, url: string, n: number): Promise<number> {
  const start = process.cpuUsage();
  await serveInProcess(handler, url, n);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / n;
}

const n = 100_000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const result: Record<string, number> = {};
console.log(`# bench:hot-path — ${rounds} interleaved rounds × ${n} requests per handler, CPU ns per request (median); Node ${process.version}`);
for (const [name, url] of [['hello', '/hello'], ['item', '/items/42']]) {
  const raw: number[] = [];
  const headers: number[] = [];
  const sk: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const x = await nsPerRequest(rawHandler, url, n);
    const h = await nsPerRequest(rawHandlerWithSkiffHeaders, url, n);
    const y = await nsPerRequest(skiff, url, n);
    if (r > 0) (raw.push(x), headers.push(h), sk.push(y)); // the first round warms up the JIT
  }
  const minus = (a: number[], b: number[]) => round2(median(a.map((y, i) => y - b[i])));
  console.log(`${url}: raw ${round2(median(raw))} ns, raw with skiff's headers ${round2(median(headers))} ns, skiff ${round2(median(sk))} ns; `
    + `the headers add ${minus(headers, raw)} ns, skiff adds ${minus(sk, raw)} ns to raw and ${minus(sk, headers)} ns to raw with the headers (medians of per-round differences)`);
  result[`skiff_minus_raw_ns_${name}`] = minus(sk, raw);
  result[`skiff_minus_raw_same_headers_ns_${name}`] = minus(sk, headers);
  result[`headers_ns_${name}`] = minus(headers, raw);
}
assertWritten();
console.log(JSON.stringify(result));
