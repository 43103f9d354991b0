// Public face of the runner: `runService(service)` runs a service built on skiff (the supervisor, its API
// processes and its queue workers); the process parts are exported for tests that run one in-process.
export { runService, type RunOptions, type ServiceRole, type ServiceSource } from './run.ts';
export type { Service, ServiceContext } from './service.ts';
export { createServiceApp, type ServiceAppOptions } from './app.ts';
export { startApi, type RunningApi } from './api.ts';
export { runWorkerProcess, startWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from './worker.ts';
