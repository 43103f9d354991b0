// Baseline: plain node:http, hand-written routing and JSON.stringify, no validation beyond the integer check.
import http from 'node:http';

const hello = JSON.stringify({ hello: 'world' });
http
  .createServer((req, res) => {
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
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
