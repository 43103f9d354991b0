// The node:http server around an app: timeouts that cut slow clients, and a drain that lets in-flight
// requests finish while keep-alive clients are told to go elsewhere.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HttpError, PROBLEM_CONTENT_TYPE } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { App } from '../router/index.ts';
import { createCors, type CorsOptions } from './cors.ts';
import { drainHttpServer } from './drain.ts';
import { createRequestHandler } from './handle.ts';

export interface ServerOptions {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  drainTimeoutMs: number;
  cors: CorsOptions;
}

export type ListenTarget = { port: number; host: string } | { fd: number };

export interface SkiffServer {
  readonly server: http.Server;
  listen(target: ListenTarget): Promise<AddressInfo | string>;
  /** Stops accepting, lets in-flight requests finish within `drainTimeoutMs`, then closes what is left. */
  drain(): Promise<void>;
  isDraining(): boolean;
  /** Calls `observer` with the status of every request rejected before routing (see `rejectionFor`). */
  observeRejected(observer: (status: number) => void): void;
}

type RejectionCode = 'BAD_REQUEST' | 'REQUEST_TIMEOUT' | 'HEADERS_TOO_LARGE' | 'METHOD_NOT_IMPLEMENTED';

/** Requests Node's parser or its timeouts reject, answered as problem+json like every other error. */
function rejectionFor(code: string | undefined, received: Buffer | undefined): RejectionCode {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW': return 'HEADERS_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT': return 'REQUEST_TIMEOUT';
    // llhttp knows every registered method, so a token it does not know is a method we do not implement;
    // bytes that are no token at all (a TLS handshake on the plain port) are simply malformed.
    case 'HPE_INVALID_METHOD': return received !== undefined && METHOD_TOKEN.test(received.toString('latin1', 0, 64)) ? 'METHOD_NOT_IMPLEMENTED' : 'BAD_REQUEST';
    // Bad request line or version, CL + TE, a duplicate or bad Content-Length, bad chunks, bad header bytes.
    default: return 'BAD_REQUEST';
  }
}

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/** Each answer's bytes, built once: a rejection costs a socket write, whatever a flood of them sends. */
const REJECTIONS = Object.fromEntries(
  (['BAD_REQUEST', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE', 'METHOD_NOT_IMPLEMENTED'] as const).map((code) => {
    const error = HttpError.of(code);
    const body = JSON.stringify(error.toProblem());
    const head = `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n`;
    return [code, { status: error.status, bytes: Buffer.from(head + body) }];
  }),
) as Record<RejectionCode, { status: number; bytes: Buffer }>;

export function createServer(app: App, options: ServerOptions, log: Logger): SkiffServer {
  // ctx.draining: one signal for every request; each open stream may listen on it, so no listener limit.
  const drainStart = new AbortController();
  setMaxListeners(0, drainStart.signal);
  const handler = createRequestHandler({ app, cors: createCors(options.cors), draining: drainStart.signal });
  const server = http.createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: Math.max(options.requestTimeoutMs, options.headersTimeoutMs),
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default): check at a fraction of the
      // headers timeout so a slowloris client is cut close to it.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(options.headersTimeoutMs / 4))),
    },
    handler,
  );
  const rejectedObservers: ((status: number) => void)[] = [];
  const reject = (socket: Duplex, code: RejectionCode) => {
    const answer = REJECTIONS[code];
    for (const observe of rejectedObservers) observe(answer.status);
    // Never write into a response under way on this socket (Node's own handler checks the same); after one that
    // has ended, the answer follows it in order.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent: boolean; writableEnded: boolean } | null })._httpMessage;
    if (!socket.writable || (inFlight?.headersSent && !inFlight.writableEnded)) return socket.destroy();
    // The server keeps sockets half-open: close ours once the answer is written, whatever the client does.
    socket.end(answer.bytes, () => socket.destroy());
  };
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => reject(socket, rejectionFor(err.code, err.rawPacket)));
  // CONNECT would make this a proxy; without a listener Node closes the socket without a word.
  server.on('connect', (_req, socket) => reject(socket, 'METHOD_NOT_IMPLEMENTED'));

  let draining: Promise<void> | null = null;
  return {
    server,
    isDraining: () => draining !== null,
    observeRejected: (observer) => void rejectedObservers.push(observer),
    listen(target) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo | string);
        };
        if ('fd' in target) server.listen({ fd: target.fd }, done);
        else server.listen(target.port, target.host, done);
      });
    },
    drain() {
      // Open streams hear it first and end (SSE with a last event), so they do not hold the drain to its timeout.
      drainStart.abort();
      // The order that fails no request under keep-alive load (src/http/drain.ts); /readyz says 503 at once.
      draining ??= drainHttpServer(server, {
        timeoutMs: options.drainTimeoutMs,
        onTimeout: () => log.warn('drain timeout reached; closing remaining connections'),
      }).then(() => log.debug('drained'));
      return draining;
    },
  };
}
