// The docs routes: the OpenAPI document, a Redoc page and a Swagger UI page. Every script and stylesheet comes
// from this server (Swagger UI from the swagger-ui-dist package, Redoc's standalone bundle vendored under
// vendor/redoc), and each page's Content-Security-Policy names no other origin.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createRouter, staticRoute, type Router } from '../router/index.ts';

export interface DocsPaths {
  openapiPath: string;
  /** null: no Redoc page. */
  redocPath: string | null;
  /** null: no Swagger UI page. */
  swaggerPath: string | null;
}

// Inline styles: both UIs set style attributes and Redoc injects <style> elements. Redoc's search index runs in
// a worker it starts from a blob: URL. Images and fonts may be data: URLs inside the bundled CSS.
const BASE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "font-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
];
export const REDOC_CSP = [...BASE_CSP, 'worker-src blob:'].join('; ');
export const SWAGGER_CSP = BASE_CSP.join('; ');

// Redoc's sidebar credit loads this image from Redocly's CDN; with no source it asks nothing and hides itself.
const REDOCLY_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const HTML = 'text/html; charset=utf-8';
const PAGE_HEADERS = { 'referrer-policy': 'no-referrer' };

const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const here = (file: string): Buffer => readFileSync(new URL(file, import.meta.url));

export function docsRouter(paths: DocsPaths, title: string, openapiJson: () => string): Router {
  const router = createRouter();
  // Loaded on the first request (the document serialized then) and, like every static route, left out of the
  // document they serve.
  staticRoute(router, paths.openapiPath, 'application/json; charset=utf-8', openapiJson);

  const name = escapeHtml(title);
  const spec = escapeHtml(paths.openapiPath);
  if (paths.redocPath !== null) {
    const bundle = `${paths.redocPath}/redoc.standalone.js`;
    const html = page(`${name} — API reference`, `<redoc spec-url="${spec}"></redoc>\n<script src="${escapeHtml(bundle)}"></script>`);
    staticRoute(router, paths.redocPath, HTML, () => html, { ...PAGE_HEADERS, 'content-security-policy': REDOC_CSP });
    staticRoute(router, bundle, JS, () => here('./vendor/redoc/redoc.standalone.js').toString('utf8').replace(REDOCLY_LOGO, ''));
  }
  if (paths.swaggerPath !== null) {
    const base = paths.swaggerPath;
    const b = escapeHtml(base);
    const html = page(`${name} — Swagger UI`, `<link rel="stylesheet" href="${b}/swagger-ui.css">
<div id="swagger-ui" data-spec-url="${spec}"></div>
<script src="${b}/swagger-ui-bundle.js"></script>
<script src="${b}/swagger-init.js"></script>`);
    staticRoute(router, base, HTML, () => html, { ...PAGE_HEADERS, 'content-security-policy': SWAGGER_CSP });
    staticRoute(router, `${base}/swagger-ui.css`, CSS, () => readFileSync(join(swaggerDir, 'swagger-ui.css')));
    staticRoute(router, `${base}/swagger-ui-bundle.js`, JS, () => readFileSync(join(swaggerDir, 'swagger-ui-bundle.js')));
    staticRoute(router, `${base}/swagger-init.js`, JS, () => here('./pages/swagger-init.js'));
  }
  return router;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; }</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
