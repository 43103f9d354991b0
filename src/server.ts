// The example service's API entry point (`npm run serve`; `npm start` adds `--with-workers`; skiff-api.service):
// the example app run like any service built on skiff (src/service). The app is imported by the forks alone:
// the supervisor needs only the settings and the cluster code.
import { runService } from './service/index.ts';

await runService(() => import('./app/index.ts').then((m) => m.exampleService), { role: process.argv.includes('--with-workers') ? 'all' : 'api' });
