// A Redis Cluster or a Sentinel-watched master behind skiff's one Redis face. Callers keep the single client's
// API: typed commands, multi(), duplicate(), subscribe(), close() and destroy() are node-redis's own on both;
// only `sendCommand(args, options)` differs (a cluster routes by a first key, a Sentinel client takes a
// read-only flag first), so it is given the single client's signature here. Multi-key commands and scripts keep
// their keys in one slot (test/redis-slots.test.ts proves it), so routing by the first key is routing by all.
import { createCluster, createSentinel } from 'redis';
import type { Redis } from './client.ts';

/** Credentials and TLS trust for every Redis connection; a REDIS_URL's own user and password win over these. */
export interface RedisAccess {
  username?: string;
  password?: string;
  /** PEM of the CA(s) that signed the servers' certificates (REDIS_TLS_CA_FILE); default Node's trusted roots. */
  ca?: string;
}

interface Credentials extends RedisAccess {
  tls: boolean;
}

export type RedisTopology =
  /** Some of the cluster's nodes (`host:port`); the client discovers the rest. */
  | ({ kind: 'cluster'; nodes: readonly string[] } & Credentials)
  /** The Sentinels (`host:port`) watching the master named `master`; `sentinelPassword` when they require one. */
  | ({ kind: 'sentinel'; sentinels: readonly string[]; master: string; sentinelPassword?: string } & Credentials);

/** What the single client's options carry over to every node's connection. */
export interface NodeConnection {
  name: string;
  disableOfflineQueue: boolean;
  socket: { connectTimeout: number; reconnectStrategy: (retries: number) => number };
}

type Send = (args: (string | Buffer)[], options?: unknown) => Promise<unknown>;

/** `host:port` → a node address; IPv6 in brackets (`[::1]:6379`). */
export function parseNode(node: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(node.trim());
  if (match === null) throw new TypeError(`"${node}" is not host:port`);
  return { host: match[1]!, port: Number(match[2]) };
}

export function describeTopology(topology: RedisTopology): string {
  return topology.kind === 'cluster'
    ? `cluster ${topology.nodes.join(',')}`
    : `sentinel master "${topology.master}" via ${topology.sentinels.join(',')}`;
}

/**
 * The key a command is routed by on a cluster: the first key of a script call, the stream of a stream read, the
 * key after a subcommand (XGROUP, XINFO), else the first argument. Undefined (any node) for a keyless script.
 */
export function routingKey(args: readonly (string | Buffer)[]): string | Buffer | undefined {
  const command = String(args[0]).toUpperCase();
  switch (command) {
    case 'EVAL': case 'EVALSHA': case 'EVAL_RO': case 'EVALSHA_RO':
      return Number(args[2]) > 0 ? args[3] : undefined;
    case 'XREAD': case 'XREADGROUP': {
      const streams = args.findIndex((a) => String(a).toUpperCase() === 'STREAMS');
      return streams === -1 ? undefined : args[streams + 1];
    }
    case 'XGROUP': case 'XINFO': case 'OBJECT': case 'MEMORY':
      return args[2];
    default:
      return args[1];
  }
}

export function credentials(access: RedisAccess): { username?: string; password?: string } {
  return { ...(access.username === undefined ? {} : { username: access.username }), ...(access.password === undefined ? {} : { password: access.password }) };
}

/** The socket options of a TLS connection (none without TLS): Node's roots, or the configured CA. */
export function tlsSocket(tls: boolean, ca: string | undefined): { tls?: true; ca?: string } {
  if (!tls) return {};
  return ca === undefined ? { tls: true } : { tls: true, ca };
}

type Routed = (key: string | Buffer | undefined, args: (string | Buffer)[], options?: unknown) => Promise<unknown>;

/** Where a topology client keeps its send routed by an explicit key (for keyless commands such as WAIT). */
const ROUTED = Symbol('skiff.routedSend');

/** A duplicate gets the same face (the worker's blocking reader and subscribers are duplicates). */
function withSingleClientFace(client: Redis, route: (send: Send) => Routed): Redis {
  const face = client as unknown as { sendCommand: Send; duplicate: (overrides?: object) => Redis; [ROUTED]: Routed };
  const duplicate = face.duplicate.bind(client);
  const routed = route(face.sendCommand.bind(client) as Send);
  face[ROUTED] = routed;
  face.sendCommand = (args, options) => routed(routingKey(args), args, options);
  face.duplicate = (overrides) => withSingleClientFace(duplicate(clusterSafe(overrides)), route);
  return client;
}

/**
 * `WAIT replicas timeoutMs` on the connection that carried the caller's last write: on a cluster, the node that
 * owns `key`'s slot (WAIT has no key to route by). Resolves to how many replicas acknowledged every write made on
 * that connection so far.
 */
export async function waitForReplicas(client: Redis, key: string, replicas: number, timeoutMs: number): Promise<number> {
  const args = ['WAIT', String(replicas), String(timeoutMs)];
  const routed = (client as unknown as { [ROUTED]?: Routed })[ROUTED];
  return Number(await (routed === undefined ? client.sendCommand(args) : routed(key, args)));
}

// A single client's `name` override means nothing to a cluster or Sentinel client's own options.
const clusterSafe = (overrides: object | undefined): object | undefined => {
  if (overrides === undefined || !('name' in overrides)) return overrides;
  const { name: _name, ...rest } = overrides as { name: unknown };
  return rest;
};

export function topologyClient(topology: RedisTopology, connection: NodeConnection, commandOptions: { timeout: number }): Redis {
  const tls = tlsSocket(topology.tls, topology.ca);
  const node = { ...connection, ...credentials(topology), socket: { ...connection.socket, ...tls } };
  if (topology.kind === 'cluster') {
    const cluster = createCluster({
      rootNodes: topology.nodes.map((n) => ({ socket: { ...parseNode(n), ...tls } })),
      defaults: node,
      commandOptions,
    }) as unknown as Redis;
    return withSingleClientFace(cluster, (send) => (key, args, options) =>
      (send as unknown as (key: unknown, readonly: boolean, a: unknown, o: unknown) => Promise<unknown>)(key, false, args, options));
  }
  const sentinel = createSentinel({
    name: topology.master,
    sentinelRootNodes: topology.sentinels.map(parseNode),
    nodeClientOptions: node,
    sentinelClientOptions: {
      ...(topology.sentinelPassword === undefined ? {} : { password: topology.sentinelPassword }),
      socket: { connectTimeout: connection.socket.connectTimeout, ...tls },
    },
    commandOptions,
  }) as unknown as Redis;
  return withSingleClientFace(sentinel, (send) => (_key, args, options) =>
    (send as unknown as (readonly: boolean, a: unknown, o: unknown) => Promise<unknown>)(false, args, options));
}
