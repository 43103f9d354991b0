// The example catalogue service: what a developer building on skiff writes. It imports only public faces.
import type { App } from '../router/index.ts';
import { mountDocs } from '../openapi/index.ts';
import { createAdminRouter, createDashboardRouter, createJobsRouter } from '../queue/index.ts';
import { overloadGuardFromConfig, rateLimiterFromConfig } from '../ratelimit/index.ts';
import { createServiceApp, type Service } from '../service/index.ts';
import { apiKeyDependency } from './auth.ts';
import { appJobs, appQueue, exportsRouter } from './exports.ts';
import { healthRouter } from './health.ts';
import { itemsRouter } from './items.ts';
import { appLimits } from './limits.ts';
import type { AppServices } from './services.ts';

export type { AppServices } from './services.ts';

export function buildApp(services: AppServices): App {
  const { config, log } = services;
  const overload = services.overload ?? overloadGuardFromConfig(config);
  const limits = appLimits(services, services.rateLimiter ?? rateLimiterFromConfig(config, services.redis, log));
  // With the service defaults: Redis did not answer → 503 with Retry-After (and whether the request was applied).
  // admit, before routing: an overloaded process refuses at the cost of a prebuilt answer.
  const app = createServiceApp({ config, log, admit: overload.admit });
  app.include(healthRouter(services, overload));
  app.include(itemsRouter(services, limits), { prefix: '/v1' });
  const queue = appQueue(services);
  // Every job route needs the key; a key sees only the jobs it enqueued (operators arrive with issue 14's roles).
  app.include(createJobsRouter(queue, {
    deps: { auth: apiKeyDependency(config.apiKeys) },
    redisTimeoutMs: config.redisCommandTimeoutMs,
    maxStreams: config.sseMaxStreams,
  }), { prefix: '/v1' });
  app.include(exportsRouter(services, queue, limits), { prefix: '/v1' });
  // The operator API: ADMIN_KEYS only (an API key gets 403); with none configured it answers 404.
  app.include(createAdminRouter([queue], { adminKeys: config.queue.adminKeys, apiKeys: config.apiKeys }), { prefix: '/v1' });
  // Its page at /admin (static, left out of the document), served only where there is an operator to use it.
  if (config.queue.adminKeys.length > 0) app.include(createDashboardRouter({ path: '/admin', api: '/v1/admin/queues' }));
  // Last: it fixes the route table and documents it (a later include throws).
  mountDocs(app, config.docs, {
    // The project names no licence: a LicenseRef- identifier is SPDX's spelling for "not a listed one".
    license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    tags: [
      { name: 'health', description: 'Liveness and readiness probes.' },
      { name: 'items', description: 'The catalogue: create, read, list, update and delete items. Writes need an API key.' },
      { name: 'jobs', description: 'Background jobs: status and result, live events (SSE), abort. Each job is visible only to the API key that enqueued it.' },
      { name: 'exports', description: 'Catalogue exports (CSV, NDJSON) made by a background job.' },
      { name: 'admin', description: 'Operating the job queues: counts, throughput, workers, jobs by status, retry, abort, delete, promote, pause, resume, drain. Keys of ADMIN_KEYS only.' },
    ],
  });
  return app;
}

/** The example service for the runner (src/server.ts, src/worker.ts): its app and the jobs its workers run. */
export const exampleService: Service = { app: buildApp, jobs: appJobs };
