// The example service's queue worker entry point (`npm run worker`, skiff-worker.service): a supervisor over
// WORKER_CONCURRENCY worker processes, run like any service built on skiff (src/service); the forks alone import
// the app.
import { runService } from './service/index.ts';

await runService(() => import('./app/index.ts').then((m) => m.exampleService), { role: 'worker' });
