// Clients for the stream tests: a raw request that resets its connection at a chosen moment, and a request on
// a connection of its own that reports whether its body ended cleanly.
import http from 'node:http';
import net from 'node:net';

/** A raw request that resets its connection once `when` holds for what has arrived ('' right after sending). */
export function resetWhen(port: number, path: string, when: (received: string) => boolean, method = 'GET'): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      if (when('')) socket.resetAndDestroy();
    });
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      if (!socket.destroyed && when(received)) socket.resetAndDestroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
  });
}

export interface StreamedAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** false: the connection was cut before the body ended. */
  ended: boolean;
}

/** A request on its own connection; `onData` sees the body so far as it grows. */
export function request(port: number, path: string, method = 'GET', onData?: (body: string) => void): Promise<StreamedAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      const answer = (ended: boolean) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ended });
      res.on('data', (d) => {
        body += d;
        onData?.(body);
      });
      res.on('end', () => answer(true));
      res.on('error', () => answer(false));
    });
    req.on('error', reject);
    req.end();
  });
}
