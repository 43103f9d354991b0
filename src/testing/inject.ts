// inject(app): the app's own server (createServer: the same request handler, parser limits and rejections) with
// no socket. Each request is a Node HTTP client and that server talking over an in-memory stream pair, so what
// a test sees (status, headers, body, HEAD, streams, 413 cut-offs) is what a socket carries, minus the port.
import http from 'node:http';
import { Duplex } from 'node:stream';
import { createServer, type ServerOptions } from '../http/index.ts';
import type { App } from '../router/index.ts';
import { clientOf, outgoing, TEST_SERVER_OPTIONS, testResponse, type TestClient } from './client.ts';

/** The origin `inject` reports as its url: it is never dialled (`.invalid` cannot resolve). */
export const INJECT_ORIGIN = 'http://inject.invalid';

export function inject(app: App, options: Partial<ServerOptions> = {}): TestClient {
  const server = createServer(app, { ...TEST_SERVER_OPTIONS, ...options }, app.log);
  const open = new Set<Duplex>();
  const request: TestClient['request'] = (method, path, requestOptions) => new Promise((resolve, reject) => {
    const { headers, body } = outgoing(method, path, requestOptions);
    // As fetch does: a body goes with its length, not chunked, so a route sees Content-Length (and 413s early).
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(Buffer.byteLength(body));
    const [clientSide, serverSide] = streamPair();
    open.add(serverSide);
    serverSide.once('close', () => open.delete(serverSide));
    server.server.emit('connection', serverSide);
    const req = http.request({ method, path, headers, createConnection: () => clientSide as never });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const received = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) received.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        resolve(testResponse(res.statusCode ?? 0, received, Buffer.concat(chunks).toString('utf8')));
      });
    });
    req.end(body);
  });
  return clientOf(INJECT_ORIGIN, request, async () => {
    await server.drain(); // no listener to close: it signals ctx.draining, so open streams end
    for (const side of open) side.destroy();
  });
}

/** Two connected in-memory duplex streams: what one writes the other reads; ending or destroying one ends the other's reading. */
function streamPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const ended = [false, false];
  const endOf = (i: number) => {
    if (ended[i]) return;
    ended[i] = true;
    sides[i].push(null);
  };
  const side = (i: number) => new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (!ended[1 - i]) sides[1 - i].push(chunk);
      callback();
    },
    final(callback) {
      endOf(1 - i);
      callback();
    },
    destroy(err, callback) {
      endOf(1 - i);
      callback(err);
    },
  });
  sides.push(side(0), side(1));
  return [sides[0], sides[1]];
}
