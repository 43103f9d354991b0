// Where a service listens and keeps a private Redis: the supervisor checks these before forking, and its API
// processes use them, so they live apart from the API process's code (which the supervisor does not load).
import { resolve } from 'node:path';
import type { ListenAddress } from '../cluster/index.ts';
import type { Config } from '../config.ts';

export const apiAddress = (config: Config): ListenAddress => ({ host: config.host, port: config.port, variable: 'PORT' });
export const metricsAddress = (config: Config): ListenAddress => ({ ...config.metrics, variable: 'METRICS_PORT' });
/** Where a private redis-server keeps its append-only file: under the directory the service runs in. */
export const privateRedisDir = (): string => resolve('var/redis');
