// Requests served without a network: Node's own IncomingMessage (headers left raw, as the parser leaves them) and
// ServerResponse, written to sockets that discard the bytes, 50 responses in flight at once (wrk -c50 keeps 50).
// bench:hot-path times a handler this way; bench:instructions counts the instructions it executes.
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

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

/** Serves `n` GETs of `url` (a multiple of 50), 50 at a time, each batch finished before the next starts. */
export async function serveInProcess(handler: Handler, url: string, n: number): Promise<void> {
  for (let done = 0; done < n; done += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      const [req, res] = exchange(url, sockets[i]);
      handler(req, res);
    }
    await new Promise((resolve) => setImmediate(resolve)); // the responses finish and free their sockets
  }
}

/** Throws when no byte reached the sockets: a handler that wrote nothing measured nothing. */
export function assertWritten(): void {
  if (written === 0) throw new Error('nothing was written');
}
