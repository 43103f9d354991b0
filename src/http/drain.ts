// Retiring an HTTP server without failing a request, in the order measured to lose none under keep-alive load
// behind cluster's round-robin: since Node 19 `server.close()` reaps idle keep-alive sockets at once, racing
// the client's next request on them. So: stop listening alone; once the primary has dropped us from its
// rotation, answer with `Connection: close`; a while later close what is still idle; exit when all are gone.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net from 'node:net';

export interface DrainOptions {
  /** Hard deadline: connections still open after this long are destroyed. */
  timeoutMs: number;
  /** Called when `Connection: close` answers begin. */
  onDraining?: () => void;
  /** Called if connections are still open at `timeoutMs` (they are then destroyed). */
  onTimeout?: () => void;
  /** Delay before `Connection: close` answers begin (the primary must first drop us from its rotation). */
  closeAfterMs?: number;
  /** Delay, after that, before idle sockets are closed; they are swept again every `reapAfterMs / 8`. */
  reapAfterMs?: number;
}

export async function drainHttpServer(server: Server, options: DrainOptions): Promise<void> {
  const { timeoutMs, closeAfterMs = 300, reapAfterMs = 1_000 } = options;
  if (!server.listening) return;
  // net.Server's own close stops accepting and calls back when the last connection is gone; idle sockets stay.
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  const timers: NodeJS.Timeout[] = [];
  timers.push(setTimeout(() => {
    server.prependListener('request', closeAfterResponse);
    options.onDraining?.();
    timers.push(setTimeout(() => {
      server.closeIdleConnections();
      // A response that was already under way when draining began leaves its socket idle later.
      timers.push(setInterval(() => server.closeIdleConnections(), Math.max(10, reapAfterMs / 8)));
    }, reapAfterMs));
  }, closeAfterMs));
  timers.push(setTimeout(() => {
    options.onTimeout?.();
    server.closeAllConnections();
  }, timeoutMs));
  await closed;
  for (const t of timers) clearTimeout(t);
  server.off('request', closeAfterResponse);
}

function closeAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
}
