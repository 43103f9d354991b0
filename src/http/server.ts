// The node:http server around an app: timeouts that cut slow clients, and a drain that lets in-flight
// requests finish while keep-alive clients are told to go elsewhere.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainHttpServer } from '../cluster/index.ts';
import type { Logger } from '../log.ts';
import type { App } from '../router/index.ts';
import { createCors, type CorsOptions } from './cors.ts';
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
}

export function createServer(app: App, options: ServerOptions, log: Logger): SkiffServer {
  const handler = createRequestHandler({ app, cors: createCors(options.cors) });
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  let draining: Promise<void> | null = null;
  return {
    server,
    isDraining: () => draining !== null,
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
      // The order that fails no request under keep-alive load (src/cluster/drain.ts); /readyz says 503 at once.
      draining ??= drainHttpServer(server, {
        timeoutMs: options.drainTimeoutMs,
        onTimeout: () => log.warn('drain timeout reached; closing remaining connections'),
      }).then(() => log.debug('drained'));
      return draining;
    },
  };
}
