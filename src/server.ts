// The example service's API entry point (`npm run serve`; `npm start` adds `--with-workers`; skiff-api.service):
// the example app run like any service built on skiff (src/service).
import { exampleService } from './app/index.ts';
import { runService } from './service/index.ts';

await runService(exampleService, { role: process.argv.includes('--with-workers') ? 'all' : 'api' });
