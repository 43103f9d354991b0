// The operator dashboard: one static page, its script and its stylesheet (files in dashboard/, served as they
// are: no bundler, no framework, nothing from another origin). The page asks for an admin key once, keeps it in
// sessionStorage and calls only the operator API (createAdminRouter) on the same origin; the server side is
// three static routes, so the page holds no secret and needs no role of its own.
import { readFileSync } from 'node:fs';
import { SkiffStartupError } from '../errors.ts';
import { createRouter, staticRoute, type Router } from '../router/index.ts';

export interface DashboardOptions {
  /** Where the page is served (default `/admin`); its script and stylesheet are under it. */
  path?: string;
  /** Where the operator API is mounted (default `/v1/admin/queues`, the example app's). */
  api?: string;
}

// Scripts and styles from this server only, and no inline ones; the page talks to this origin only.
export const DASHBOARD_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

// Both paths are written into the page as they are: so they may hold nothing that HTML or a URL would read
// otherwise.
const PATH = /^(\/[A-Za-z0-9_.~-]+)+$/;
const file = (name: string): Buffer => readFileSync(new URL(`./dashboard/${name}`, import.meta.url));

export function createDashboardRouter(options: DashboardOptions = {}): Router {
  const path = options.path ?? '/admin';
  const api = options.api ?? '/v1/admin/queues';
  for (const p of [path, api]) {
    if (!PATH.test(p)) throw new SkiffStartupError('SKIFF_ROUTE_INVALID', `dashboard: ${p} is not a plain absolute path (letters, digits, _ . ~ -)`);
  }
  const router = createRouter();
  const page = () => file('index.html').toString('utf8').replaceAll('{{base}}', path).replaceAll('{{api}}', api);
  staticRoute(router, path, 'text/html; charset=utf-8', page, { 'content-security-policy': DASHBOARD_CSP, 'referrer-policy': 'no-referrer' });
  staticRoute(router, `${path}/dashboard.js`, 'text/javascript; charset=utf-8', () => file('dashboard.js'));
  staticRoute(router, `${path}/dashboard.css`, 'text/css; charset=utf-8', () => file('dashboard.css'));
  return router;
}
