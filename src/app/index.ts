// The example catalogue service: what a developer building on skiff writes. It imports only public faces.
import { createApp, type App } from '../router/index.ts';
import { healthRouter } from './health.ts';
import { itemsRouter } from './items.ts';
import type { AppServices } from './services.ts';

export type { AppServices } from './services.ts';

export function buildApp(services: AppServices): App {
  const { config, log } = services;
  const app = createApp({ log, bodyLimitBytes: config.bodyLimitBytes, responseValidation: config.responseValidation });
  app.include(healthRouter(services));
  app.include(itemsRouter(services), { prefix: '/v1' });
  return app;
}
