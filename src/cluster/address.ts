// The addresses HTTP workers will listen on, checked once in the primary before any worker starts: a taken port
// is one line and exit 1 at once, not a crash loop of workers that each fail the same way.
import net from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
  /** The variable an operator changes to move it, named in the message. */
  variable: string;
}

/** Why listening on `address` fails, in an operator's words after its start-up error code; null when it succeeds (port 0 always does). */
export async function checkListen(address: ListenAddress): Promise<string | null> {
  if (address.port === 0) return null;
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(address.port, address.host, resolve);
    });
  } catch (err) {
    return describeListenError(err, address);
  }
  await new Promise((resolve) => probe.close(resolve));
  return null;
}

export function describeListenError(err: unknown, { host, port, variable }: ListenAddress): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `SKIFF_ADDRESS_IN_USE: ${where} is in use (another skiff, or another server, listens there): stop it or set ${variable}`;
    case 'EACCES':
      return `SKIFF_ADDRESS_UNUSABLE: ${where}: permission denied (ports below 1024 need privileges): set ${variable}`;
    case 'EADDRNOTAVAIL':
      return `SKIFF_ADDRESS_UNUSABLE: ${where}: ${host} is not an address of this machine`;
    default:
      return `SKIFF_ADDRESS_UNUSABLE: cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
