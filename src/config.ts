// The process's whole configuration, read from the environment once and checked by a TypeBox schema.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Type, type Static } from '@sinclair/typebox';
import { HttpError, SkiffStartupError } from './errors.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import { trustedProxies } from './ratelimit/index.ts';
import type { RedisAccess, RedisTopology } from './redis/index.ts';
import { compileStringInput } from './schema/index.ts';

// A misspelt NODE_ENV ("prod") would silently keep development behaviour in production: only these are accepted.
const NODE_ENVS = ['development', 'production', 'test'] as const;
const Milliseconds = (def: number, description: string) => Type.Integer({ minimum: 1, default: def, description });
const Seconds = (def: number, description: string) => Type.Number({ exclusiveMinimum: 0, default: def, description: `${description} Seconds.` });
const List = (description: string) => Type.String({ default: '', description });
const Keep = (def: string, which: string) => Type.String({ pattern: '^[0-9]*(,[0-9]*)?$', default: def, description: `How many ${which} jobs stay listed, and for how long: \`count,seconds\` (either may be empty: no bound); older ones are deleted as jobs finish.` });
const DocsPath = (def: string, description: string) => Type.String({ pattern: '^(/[A-Za-z0-9._~/-]*)?$', default: def, description });

export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union(NODE_ENVS.map((e) => Type.Literal(e)), { default: 'development', description: 'development | production (turns off response validation) | test.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the API listens on.' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: 'Port the API listens on (0: any free port).' }),
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address GET /metrics is served on, apart from the API.' }),
  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464, description: 'Port GET /metrics is served on (0: any free port).' }),
  LOG_LEVEL: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info', description: 'debug | info (one line per request) | warn | error | silent.' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis to use; unset: 127.0.0.1:6379, or a private redis-server started by `npm start`.' })),
  REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_.-]*$', default: 'skiff:', description: 'Prefix of every Redis key skiff writes.' }),
  REDIS_COMMAND_TIMEOUT_MS: Milliseconds(1000, 'Longest a request waits on one Redis command before answering 503.'),
  REDIS_CLUSTER_NODES: List('Comma-separated `host:port` of some Redis Cluster nodes: use the cluster instead of REDIS_URL.'),
  REDIS_SENTINELS: List('Comma-separated `host:port` of Redis Sentinels: use the master they name (REDIS_SENTINEL_MASTER) instead of REDIS_URL.'),
  REDIS_SENTINEL_MASTER: Type.String({ default: 'mymaster', description: 'The master name the Sentinels watch.' }),
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ description: 'Password of the Sentinels themselves, when they require one.' })),
  REDIS_USERNAME: Type.Optional(Type.String({ description: 'ACL user for Redis: cluster and Sentinel-watched nodes, and REDIS_URL when it names none.' })),
  REDIS_PASSWORD: Type.Optional(Type.String({ description: 'Password for Redis: cluster and Sentinel-watched nodes, and REDIS_URL when it carries none.' })),
  REDIS_TLS: Type.Boolean({ default: false, description: 'TLS to cluster and Sentinel nodes (REDIS_URL: use `rediss://`).' }),
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signed the Redis servers\' certificates (TLS: `rediss://`, REDIS_TLS); default: Node\'s trusted roots.' })),
  REDIS_REQUIRE_NOEVICTION: Type.Boolean({ default: false, description: 'Refuse to start unless every Redis master has maxmemory-policy noeviction (else a warning).' }),
  API_KEYS: List('Comma-separated API keys accepted in `X-API-Key` by write routes.'),
  CORS_ORIGINS: List('Comma-separated origins allowed by CORS (`*` for any); empty: CORS off.'),
  CORS_METHODS: Type.String({ default: 'GET,POST,PUT,PATCH,DELETE', description: 'Methods allowed in CORS preflight.' }),
  CORS_HEADERS: Type.String({ default: 'Content-Type,Authorization,X-API-Key,X-Request-Id,Idempotency-Key,If-None-Match', description: 'Request headers allowed in CORS preflight.' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 0, default: 1_048_576, description: 'Largest JSON body accepted (per-route override).' }),
  JSON_MAX_DEPTH: Type.Integer({ minimum: 1, maximum: 10_000, default: 64, description: 'Deepest nesting of a JSON body (per-route override); deeper is a 400.' }),
  HEADERS_TIMEOUT_MS: Milliseconds(10_000, 'A client must send its headers within this time (slowloris guard).'),
  REQUEST_TIMEOUT_MS: Milliseconds(30_000, 'A client must send its whole request within this time.'),
  KEEP_ALIVE_TIMEOUT_MS: Milliseconds(65_000, 'Idle keep-alive sockets close after this; keep above the proxy\'s (60 s).'),
  DRAIN_TIMEOUT_MS: Milliseconds(10_000, 'On SIGTERM, in-flight requests get this long to finish.'),
  SSE_MAX_STREAMS: Type.Integer({ minimum: 1, default: 1000, description: 'Job event streams (SSE) one API process holds at once; past it, 503 with Retry-After.' }),
  QUEUE_NAME: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', default: 'default', description: 'Job queue the API enqueues to and workers read.' }),
  WORKER_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: 'Consumer name base of queue worker processes (default host-pid); each supervised process appends -n, unique per process.' })),
  WORKER_MAX_JOBS: Type.Integer({ minimum: 1, maximum: 10_000, default: 50, description: 'Jobs one queue worker process runs at once.' }),
  JOB_LEASE_MS: Milliseconds(30_000, 'A job whose worker has not heartbeated for this long is re-run elsewhere.'),
  WORKER_GRACE_MS: Milliseconds(25_000, 'On SIGTERM, running jobs get this long before they are re-queued.'),
  // Queue operations: the operator role and the retention of finished jobs.
  ADMIN_KEYS: List('Comma-separated keys with the operator role (the /v1/admin/queues API), sent in `X-API-Key`; empty: that API answers 404.'),
  QUEUE_KEEP_COMPLETE: Keep('10000,86400', 'complete'),
  QUEUE_KEEP_FAILED: Keep('10000,604800', 'failed (and aborted)'),
  QUEUE_WAIT_REPLICAS: Type.Integer({ minimum: 0, default: 0, description: 'Replicas that must acknowledge each enqueue and each settled job (Redis WAIT) before it counts; fewer within QUEUE_WAIT_TIMEOUT_MS: the enqueue answers 503 OUTCOME_UNKNOWN. 0: no wait (a failover can lose the last writes).' }),
  QUEUE_WAIT_TIMEOUT_MS: Milliseconds(500, 'Longest an enqueue or a settle waits for QUEUE_WAIT_REPLICAS replicas.'),
  QUEUE_PARTITIONS: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Key sets (Redis Cluster slots) the queue spreads over, so its work spreads over the masters; the same in every process of the queue.' }),
  RESPONSE_VALIDATION: Type.Optional(Type.Boolean({ description: 'Check responses against their schema; default on unless NODE_ENV=production.' })),
  WEB_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, description: 'HTTP worker processes; default: os.availableParallelism().' })),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, default: 1, description: 'Queue worker processes.' }),
  GRACEFUL_TIMEOUT: Seconds(30, 'On SIGTERM or reload, a worker gets this long to drain before it is killed.'),
  WORKER_TIMEOUT: Seconds(30, 'A worker whose event loop is blocked this long is killed and replaced.'),
  MAX_REQUESTS: Type.Integer({ minimum: 0, default: 0, description: 'Replace an HTTP worker after this many requests (0: never).' }),
  MAX_REQUESTS_JITTER: Type.Integer({ minimum: 0, default: 0, description: 'Adds 0..N to MAX_REQUESTS per worker, so workers do not restart together.' }),
  DOCS_ENABLED: Type.Boolean({ default: true, description: 'Serve the OpenAPI document and the Redoc / Swagger UI pages.' }),
  DOCS_OPENAPI_PATH: DocsPath('/openapi.json', 'Where the OpenAPI document is served.'),
  DOCS_REDOC_PATH: DocsPath('/redoc', 'Where the Redoc page is served; empty: no Redoc page.'),
  DOCS_SWAGGER_PATH: DocsPath('/docs', 'Where the Swagger UI page is served; empty: no Swagger UI page.'),
  DOCS_SERVERS: List('Comma-separated server URLs listed in the OpenAPI document; empty: the same origin.'),
  IDEMPOTENCY_TTL_S: Type.Integer({ minimum: 1, default: 86_400, description: 'How long an Idempotency-Key and its stored response are kept, from the first request. Seconds.' }),
  IDEMPOTENCY_LEASE_MS: Milliseconds(10_000, 'How long a running request holds its Idempotency-Key (retries get 409); past it, a retry runs again under the same operation id.'),
  CACHE_ENABLED: Type.Boolean({ default: true, description: 'Serve cached routes from the response cache; false: every request runs its handler.' }),
  CACHE_STORE: Type.Union([Type.Literal('redis'), Type.Literal('memory')], { default: 'redis', description: '`redis` (shared by every process) or `memory` (one process, bounded LRU).' }),
  CACHE_REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'A separate Redis for the cache; unset: the main Redis.' })),
  CACHE_MAX_BODY_BYTES: Type.Integer({ minimum: 0, default: 1_048_576, description: 'Larger response bodies are served but not stored.' }),
  CACHE_LOCK_TTL_MS: Milliseconds(10_000, 'Life of a fill lock: the longest a crashed filler can delay others waiting on the same key.'),
  CACHE_HONOR_NO_CACHE: Type.Boolean({ default: false, description: 'Let a request `Cache-Control: no-cache` force a fresh answer (off: one client cannot make every request run the handler).' }),
  CACHE_LOCAL_MAX_BYTES: Type.Integer({ minimum: 0, default: 33_554_432, description: 'Byte bound of each process\'s local tier in front of the Redis cache store (kept coherent by Redis client tracking; single Redis server only); 0: off.' }),
  CACHE_MEMORY_MAX_ENTRIES: Type.Integer({ minimum: 1, default: 10_000, description: 'Entry bound of the in-memory cache store.' }),
  CACHE_MEMORY_MAX_BYTES: Type.Integer({ minimum: 1, default: 67_108_864, description: 'Byte bound of the in-memory cache store.' }),
  // At least one whole export (5 MiB, the file cap): an export counts at that size until it completes.
  EXPORT_MAX_STORED_BYTES: Type.Integer({ minimum: 5_242_880, default: 52_428_800, description: 'Export bytes one API key may hold: its unexpired export files, and 5 MiB per export not yet complete; past it `POST /v1/exports` answers 429.' }),
  // Rate limits (src/ratelimit) and overload protection.
  RATE_LIMIT_ENABLED: Type.Boolean({ default: true, description: 'Apply the rate limits; false: every route runs unlimited, without RateLimit headers.' }),
  RATE_LIMIT_STORE: Type.Union([Type.Literal('redis'), Type.Literal('memory')], { default: 'redis', description: '`redis` (one budget shared by every process and host) or `memory` (per process).' }),
  RATE_LIMIT_FAILURE: Type.Union([Type.Literal('open'), Type.Literal('closed')], { default: 'open', description: 'When the store does not answer: `open` lets requests through unlimited (logged, counted), `closed` answers 503.' }),
  RATE_LIMIT_WRITE_QUOTA: Type.Integer({ minimum: 1, default: 60, description: 'Writes (POST, PATCH, DELETE) one API key may make per RATE_LIMIT_WRITE_WINDOW_S.' }),
  RATE_LIMIT_WRITE_WINDOW_S: Type.Integer({ minimum: 1, default: 60, description: 'Window of the write quota. Seconds.' }),
  RATE_LIMIT_WRITE_BURST: Type.Integer({ minimum: 1, default: 20, description: 'Writes one API key may make at once after a quiet spell.' }),
  RATE_LIMIT_READ_QUOTA: Type.Integer({ minimum: 1, default: 600, description: 'Catalogue reads (GET /v1/items…) one client IP may make per RATE_LIMIT_READ_WINDOW_S.' }),
  RATE_LIMIT_READ_WINDOW_S: Type.Integer({ minimum: 1, default: 60, description: 'Window of the read quota. Seconds.' }),
  RATE_LIMIT_READ_BURST: Type.Integer({ minimum: 1, default: 100, description: 'Reads one client IP may make at once after a quiet spell.' }),
  TRUSTED_PROXIES: List('Comma-separated proxy addresses or CIDRs whose Forwarded / X-Forwarded-For hops name the client; empty: the socket peer is the client.'),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000, description: 'Refuse new requests (503) while the event loop runs this late; 0: off.' }),
  OVERLOAD_MAX_HEAP_USED_BYTES: Type.Optional(Type.Integer({ minimum: 0, description: 'Refuse new requests (503) while the V8 heap in use passes this; default 90 % of the heap limit; 0: off.' })),
  OVERLOAD_MAX_IN_FLIGHT: Type.Integer({ minimum: 0, default: 10_000, description: 'Refuse new requests (503) while this many are in flight in one process; 0: off.' }),
  OVERLOAD_SAMPLE_INTERVAL_MS: Milliseconds(500, 'How often event-loop delay and heap are sampled; a refusal lasts until a sample says the pressure is gone.'),
});

export type Env = Static<typeof EnvSchema>;

export interface Config {
  env: (typeof NODE_ENVS)[number];
  host: string;
  port: number;
  /** Where GET /metrics is served: its own listener, never the API's. */
  metrics: { host: string; port: number };
  logLevel: LogLevel;
  /** Undefined when not configured: `npm start` then looks for a local Redis or starts a private one. */
  redisUrl: string | undefined;
  redisPrefix: string;
  redisCommandTimeoutMs: number;
  /** A Redis Cluster or Sentinel-watched master in place of redisUrl; undefined for a single Redis. */
  redisTopology: RedisTopology | undefined;
  /** REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA_FILE's PEM: for redisUrl (its own user and password win) and the topology. */
  redisAccess: RedisAccess;
  /** Refuse to start when a master may evict keys (queue data would vanish), instead of warning. */
  redisRequireNoEviction: boolean;
  apiKeys: string[];
  cors: { origins: string[]; methods: string[]; headers: string[] };
  bodyLimitBytes: number;
  jsonMaxDepth: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  drainTimeoutMs: number;
  sseMaxStreams: number;
  responseValidation: boolean;
  cluster: ClusterConfig;
  queue: {
    name: string; workerId: string | undefined; maxJobs: number; leaseMs: number; graceMs: number;
    /** QUEUE_PARTITIONS: key sets the queue spreads over (src/queue/partitions.ts). */
    partitions: number;
    /** QUEUE_KEEP_COMPLETE, QUEUE_KEEP_FAILED: a missing bound is absent. */
    retention: { complete: { count?: number; ageS?: number }; failed: { count?: number; ageS?: number } };
    /** ADMIN_KEYS: keys with the operator role; empty: the operator API answers 404. */
    adminKeys: string[];
    /** QUEUE_WAIT_REPLICAS, QUEUE_WAIT_TIMEOUT_MS; undefined when no replica acknowledgement is asked. */
    replicaAck: { replicas: number; timeoutMs: number } | undefined;
  };
  /** null when DOCS_ENABLED=false; a page path is null when it is switched off on its own. */
  docs: { openapiPath: string; redocPath: string | null; swaggerPath: string | null; servers: string[] } | null;
  cache: CacheConfig;
  exportMaxStoredBytes: number;
  idempotency: { ttlS: number; leaseMs: number };
  rateLimit: RateLimitConfig;
  /** Addresses or CIDRs of the proxies whose forwarding headers are believed. */
  trustedProxies: string[];
  overload: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number; maxInFlight: number; sampleIntervalMs: number };
}

export interface RateLimitConfig {
  enabled: boolean;
  store: 'redis' | 'memory';
  failure: 'open' | 'closed';
  /** The example app's policies: writes per API key, reads per client IP. */
  writes: { quota: number; windowS: number; burst: number };
  reads: { quota: number; windowS: number; burst: number };
}

export interface CacheConfig {
  enabled: boolean;
  store: 'redis' | 'memory';
  /** Undefined: the cache uses the main Redis. */
  redisUrl: string | undefined;
  maxBodyBytes: number;
  lockTtlMs: number;
  honorNoCache: boolean;
  /** Bound of the local tier in front of the Redis store; 0: none. */
  localMaxBytes: number;
  memory: { maxEntries: number; maxBytes: number };
}

export interface ClusterConfig {
  webConcurrency: number;
  workerConcurrency: number;
  gracefulTimeoutMs: number;
  workerTimeoutMs: number;
  maxRequests: number;
  maxRequestsJitter: number;
}

const parseEnv = compileStringInput(EnvSchema, { source: 'env' });
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
const keep = (s: string): { count?: number; ageS?: number } => {
  const [count = '', ageS = ''] = s.split(',');
  return { ...(count !== '' && { count: Number(count) }), ...(ageS !== '' && { ageS: Number(ageS) }) };
};

/** Reads and checks the environment; throws ConfigError naming every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  let env: Env;
  try {
    env = parseEnv(source);
  } catch (err) {
    if (err instanceof HttpError && err.errors) {
      throw new ConfigError(err.errors.map((e) => `${e.loc.slice(1).join('.') || 'env'}: ${e.msg}`).join('; '));
    }
    throw err;
  }
  const access = redisAccess(env);
  const proxies = list(env.TRUSTED_PROXIES);
  try {
    trustedProxies(proxies);
  } catch (err) {
    throw new ConfigError(`TRUSTED_PROXIES: ${(err as Error).message}`);
  }
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    metrics: { host: env.METRICS_HOST, port: env.METRICS_PORT },
    logLevel: env.LOG_LEVEL,
    redisUrl: env.REDIS_URL,
    redisPrefix: env.REDIS_PREFIX,
    redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    redisTopology: redisTopology(env, access),
    redisAccess: access,
    redisRequireNoEviction: env.REDIS_REQUIRE_NOEVICTION,
    apiKeys: list(env.API_KEYS),
    cors: { origins: list(env.CORS_ORIGINS), methods: list(env.CORS_METHODS), headers: list(env.CORS_HEADERS) },
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    jsonMaxDepth: env.JSON_MAX_DEPTH,
    headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
    drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
    sseMaxStreams: env.SSE_MAX_STREAMS,
    responseValidation: env.RESPONSE_VALIDATION ?? env.NODE_ENV !== 'production',
    cluster: {
      webConcurrency: env.WEB_CONCURRENCY ?? availableParallelism(),
      workerConcurrency: env.WORKER_CONCURRENCY,
      gracefulTimeoutMs: Math.round(env.GRACEFUL_TIMEOUT * 1000),
      workerTimeoutMs: Math.round(env.WORKER_TIMEOUT * 1000),
      maxRequests: env.MAX_REQUESTS,
      maxRequestsJitter: env.MAX_REQUESTS_JITTER,
    },
    docs: env.DOCS_ENABLED && env.DOCS_OPENAPI_PATH !== ''
      ? { openapiPath: env.DOCS_OPENAPI_PATH, redocPath: env.DOCS_REDOC_PATH || null, swaggerPath: env.DOCS_SWAGGER_PATH || null, servers: list(env.DOCS_SERVERS) }
      : null,
    cache: {
      enabled: env.CACHE_ENABLED,
      store: env.CACHE_STORE,
      redisUrl: env.CACHE_REDIS_URL,
      maxBodyBytes: env.CACHE_MAX_BODY_BYTES,
      lockTtlMs: env.CACHE_LOCK_TTL_MS,
      honorNoCache: env.CACHE_HONOR_NO_CACHE,
      localMaxBytes: env.CACHE_LOCAL_MAX_BYTES,
      memory: { maxEntries: env.CACHE_MEMORY_MAX_ENTRIES, maxBytes: env.CACHE_MEMORY_MAX_BYTES },
    },
    idempotency: { ttlS: env.IDEMPOTENCY_TTL_S, leaseMs: env.IDEMPOTENCY_LEASE_MS },
    queue: {
      name: env.QUEUE_NAME, workerId: env.WORKER_ID, maxJobs: env.WORKER_MAX_JOBS, leaseMs: env.JOB_LEASE_MS, graceMs: env.WORKER_GRACE_MS,
      partitions: env.QUEUE_PARTITIONS,
      retention: { complete: keep(env.QUEUE_KEEP_COMPLETE), failed: keep(env.QUEUE_KEEP_FAILED) },
      adminKeys: list(env.ADMIN_KEYS),
      replicaAck: env.QUEUE_WAIT_REPLICAS > 0 ? { replicas: env.QUEUE_WAIT_REPLICAS, timeoutMs: env.QUEUE_WAIT_TIMEOUT_MS } : undefined,
    },
    exportMaxStoredBytes: env.EXPORT_MAX_STORED_BYTES,
    rateLimit: {
      enabled: env.RATE_LIMIT_ENABLED,
      store: env.RATE_LIMIT_STORE,
      failure: env.RATE_LIMIT_FAILURE,
      writes: { quota: env.RATE_LIMIT_WRITE_QUOTA, windowS: env.RATE_LIMIT_WRITE_WINDOW_S, burst: env.RATE_LIMIT_WRITE_BURST },
      reads: { quota: env.RATE_LIMIT_READ_QUOTA, windowS: env.RATE_LIMIT_READ_WINDOW_S, burst: env.RATE_LIMIT_READ_BURST },
    },
    trustedProxies: proxies,
    overload: {
      maxEventLoopDelayMs: env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: env.OVERLOAD_MAX_HEAP_USED_BYTES ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9),
      maxInFlight: env.OVERLOAD_MAX_IN_FLIGHT,
      sampleIntervalMs: env.OVERLOAD_SAMPLE_INTERVAL_MS,
    },
  };
}

function redisAccess(env: Env): RedisAccess {
  let ca: string | undefined;
  if (env.REDIS_TLS_CA_FILE !== undefined) {
    try {
      ca = readFileSync(env.REDIS_TLS_CA_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`REDIS_TLS_CA_FILE: cannot read ${env.REDIS_TLS_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`REDIS_TLS_CA_FILE: ${env.REDIS_TLS_CA_FILE} holds no PEM certificate`);
  }
  return { username: env.REDIS_USERNAME, password: env.REDIS_PASSWORD, ca };
}

function redisTopology(env: Env, access: RedisAccess): RedisTopology | undefined {
  const nodes = list(env.REDIS_CLUSTER_NODES);
  const sentinels = list(env.REDIS_SENTINELS);
  if (nodes.length > 0 && sentinels.length > 0) throw new ConfigError('REDIS_CLUSTER_NODES: set it or REDIS_SENTINELS, not both');
  for (const node of [...nodes, ...sentinels]) {
    if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:,]+):\d{1,5}$/.test(node)) throw new ConfigError(`REDIS_CLUSTER_NODES / REDIS_SENTINELS: "${node}" is not host:port`);
  }
  const credentials = { ...access, tls: env.REDIS_TLS };
  if (nodes.length > 0) return { kind: 'cluster', nodes, ...credentials };
  if (sentinels.length > 0) return { kind: 'sentinel', sentinels, master: env.REDIS_SENTINEL_MASTER, sentinelPassword: env.REDIS_SENTINEL_PASSWORD, ...credentials };
  return undefined;
}

export class ConfigError extends SkiffStartupError {
  override readonly name = 'ConfigError';

  constructor(detail: string) {
    super('SKIFF_CONFIG_INVALID', detail);
  }
}

/** For entry points: a bad environment is one clear line on stderr and exit code 2. */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`skiff: ${err.code}: invalid configuration: ${err.detail}\n`);
    process.exit(2);
  }
}
