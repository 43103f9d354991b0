// Baseline: plain node:http, hand-written routing and JSON.stringify, no validation beyond the integer check.
// bench/servers/raw.ts serves it over a socket; bench/hot-path.ts calls it in process.
import type { IncomingMessage, ServerResponse } from 'node:http';

const hello = JSON.stringify({ hello: 'world' });

export function rawHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (url === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(hello) });
    res.end(hello);
    return;
  }
  if (url.startsWith('/items/')) {
    const raw = url.slice(7);
    if (/^\d+$/.test(raw)) {
      const id = Number(raw);
      const body = JSON.stringify({ id, name: `item ${id}`, price: id * 1.5, in_stock: id % 2 === 0 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
  }
  res.writeHead(404).end();
}
