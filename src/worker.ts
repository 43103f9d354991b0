// The example service's queue worker entry point (`npm run worker`, skiff-worker.service): a supervisor over
// WORKER_CONCURRENCY worker processes, run like any service built on skiff (src/service).
import { exampleService } from './app/index.ts';
import { runService } from './service/index.ts';

await runService(exampleService, { role: 'worker' });
