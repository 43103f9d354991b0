// One node-redis client per process, built so that Redis trouble degrades a request instead of hanging it:
// no offline queue (commands fail at once while disconnected), reconnect with capped exponential backoff,
// an outage logged with backoff (./outage.ts), and `withTimeout` for callers on a request path.
// A Redis Cluster or a Sentinel-watched master sits behind the same face (./topology.ts).
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import { settleWithin } from '../deadline.ts';
import type { Logger } from '../log.ts';
import { outageLog } from './outage.ts';
import { credentials, describeTopology, tlsSocket, topologyClient, type RedisAccess, type RedisTopology } from './topology.ts';

export type Redis = RedisClientType;

export interface RedisOptions {
  /** A single Redis (auth and TLS in the URL: `rediss://user:pass@host:port`); ignored when `topology` is set. */
  url: string;
  /** A Redis Cluster or a Sentinel-watched master instead of `url`. */
  topology?: RedisTopology;
  /** For `url`: a user and password when the URL carries none, and the CA a `rediss://` server's certificate is checked against. */
  access?: RedisAccess;
  /** Bounds connecting; request paths bound each call with withTimeout(…, this) and degrade (503 or a miss). */
  commandTimeoutMs: number;
  log: Logger;
  /** Shown in `CLIENT LIST` and in logs. */
  name?: string;
}

/** Exponential backoff from 50 ms, capped at 2 s, with jitter so a fleet does not reconnect in lockstep. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100);
}

/**
 * Creates a client and starts connecting in the background. It never throws when Redis is down at start-up:
 * commands fail fast until the first connection succeeds, and reconnection never gives up.
 */
export function createRedis(options: RedisOptions): Redis {
  const name = options.name ?? 'skiff';
  const log = options.log.child({ component: 'redis', client: name });
  const connection = {
    name,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      reconnectStrategy: reconnectDelay,
    },
  };
  // No per-command timeout (node-redis defaults to 5 s): it covers only commands not yet written (rejected at
  // once here anyway, with no offline queue) and costs a timer and a signal per command; callers bound what
  // they wait for with withTimeout.
  const commandOptions = { timeout: 0 };
  const access = options.access ?? {};
  // TLS follows the URL's scheme (node-redis refuses a socket that says otherwise); the URL's user and password win.
  const single = () => createClient({
    url: options.url, ...connection, ...credentials(access), commandOptions,
    socket: { ...connection.socket, ...tlsSocket(options.url.startsWith('rediss:'), access.ca) },
  }) as unknown as Redis;
  const client = options.topology === undefined ? single() : topologyClient(options.topology, connection, commandOptions);
  const outage = outageLog(log, options.topology === undefined ? options.url : describeTopology(options.topology));
  client.on('error', (err: unknown) => outage.down(err));
  client.on('ready', () => outage.up());
  client.connect().catch((err: unknown) => outage.down(err));
  return client;
}

export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
}

/**
 * Bounds a Redis call. node-redis's own command timeout only covers commands not yet written to the socket:
 * once written, a hung (SIGSTOPped) Redis keeps the promise pending for ever, so request paths wrap calls here.
 */
export function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  return settleWithin(pending, ms, () => new RedisTimeoutError(`redis did not answer within ${ms} ms`));
}

const UNAVAILABLE = new Set([
  'RedisTimeoutError', 'ClientOfflineError', 'ClientClosedError', 'SocketClosedUnexpectedlyError',
  'ConnectionTimeoutError', 'ReconnectStrategyError', 'TimeoutError', 'SocketTimeoutError', 'DeadlineExceededError',
]);

/** Errors node-redis raises before a command is written (no offline queue): the command had no effect. */
const NOT_SENT = new Set(['ClientOfflineError', 'ClientClosedError']);

/**
 * Error replies with which a server refuses a command it did not run, for a while: loading its dataset after a
 * restart, blocked by a long script, a replica or a cluster without a master. The command had no effect.
 */
const REFUSED_REPLY = /^(?:LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY) /;

/** Whether an error means "Redis is not answering" (answer 503 / treat as a miss), not a bug in the caller. */
export function isRedisUnavailable(err: unknown): boolean {
  return redisFailure(err) !== null;
}

/**
 * What a Redis error says about the command: null when it is not an availability error; 'not-applied' when the
 * command certainly had no effect (never sent, refused by its deadline guard or by a server that is loading or
 * busy, connection refused);
 * 'may-have-applied' when it was sent and no answer came (a write may have run).
 */
export function redisFailure(err: unknown): 'not-applied' | 'may-have-applied' | null {
  if (!(err instanceof Error)) return null;
  if (err instanceof ErrorReply) return REFUSED_REPLY.test(err.message) ? 'not-applied' : null;
  const code = (err as NodeJS.ErrnoException).code;
  const name = UNAVAILABLE.has(err.name) ? err.name : err.constructor.name;
  if (!UNAVAILABLE.has(name) && code !== 'ECONNREFUSED' && code !== 'ECONNRESET') return null;
  if (NOT_SENT.has(name) || code === 'ECONNREFUSED' || (err as { applied?: unknown }).applied === false) return 'not-applied';
  return 'may-have-applied';
}

/** True when Redis answered PING within `timeoutMs`. */
export async function pingRedis(client: Redis, timeoutMs: number): Promise<boolean> {
  try {
    return (await withTimeout(client.ping(), timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * Closes the client: replies still due get up to `timeoutMs`, then the connection is destroyed (their commands
 * reject), so a hung Redis never holds a stop.
 */
export async function closeRedis(client: Redis, timeoutMs = 1000): Promise<void> {
  if (!client.isOpen) return;
  try {
    await withTimeout(client.close(), timeoutMs);
  } catch {
    client.destroy();
  }
}
