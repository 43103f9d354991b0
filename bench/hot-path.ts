// `npm run bench:hot-path`: skiff's request path (match → inputs → handler → serializer → writeHead/end) in
// process, against a hand-written node:http handler on the same fake request/response, A/B interleaved. It
// isolates what skiff adds per request from socket and kernel costs, which dominate end-to-end runs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import { createRequestHandler } from '../src/http/index.ts';
import { createLogger } from '../src/log.ts';
import { createApp } from '../src/router/index.ts';
import { median, round2 } from './load.ts';
import { Item, ItemParams } from './servers/shapes.ts';

const app = createApp({ log: createLogger('warn'), responseValidation: false });
app.get('/hello', { response: { 200: Type.Object({ hello: Type.String() }) } }, () => ({ hello: 'world' }));
app.get('/items/{id}', { params: ItemParams, response: { 200: Item } }, (ctx) => {
  const id = ctx.params.id;
  return { id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 };
});
const skiff = createRequestHandler({ app, cors: null });

const hello = JSON.stringify({ hello: 'world' });
function raw(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url!;
  if (url === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(hello) });
    res.end(hello);
  } else if (url.startsWith('/items/') && /^\d+$/.test(url.slice(7))) {
    const id = Number(url.slice(7));
    const body = JSON.stringify({ id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

let sink = 0;
const res = { headersSent: false, writeHead: (s: number) => void (sink += s), end: (b: string) => void (sink += b.length), once: () => res } as unknown as ServerResponse;
const request = (url: string) => ({ url, method: 'GET', headers: { host: 'x', 'user-agent': 'bench' } }) as unknown as IncomingMessage;

function nsPerOp(handler: (req: IncomingMessage, res: ServerResponse) => void, url: string, n: number): number {
  const req = request(url);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) handler(req, res);
  return Number(process.hrtime.bigint() - start) / n;
}

const n = 200_000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const result: Record<string, number> = {};
console.log(`# bench:hot-path — ${rounds} interleaved rounds × ${n} calls per handler, ns per request (median)`);
for (const url of ['/hello', '/items/42']) {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const x = nsPerOp(raw, url, n);
    const y = nsPerOp(skiff, url, n);
    if (r > 0) (a.push(x), b.push(y)); // the first round warms up the JIT
  }
  console.log(`${url}: raw ${round2(median(a))} ns, skiff ${round2(median(b))} ns, skiff adds ${round2(median(b) - median(a))} ns`);
  result[`skiff_minus_raw_ns_${url === '/hello' ? 'hello' : 'item'}`] = round2(median(b) - median(a));
}
if (sink === 0) console.log('');
console.log(JSON.stringify(result));
