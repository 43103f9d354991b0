// Public face of the docs: the OpenAPI 3.1 document built from an app's route table, and the routes that
// serve it with a Redoc page and a Swagger UI page.
import { readFileSync } from 'node:fs';
import type { App } from '../router/index.ts';
import { buildDocument, type DocumentInfo, type OpenApiDocument } from './document.ts';
import { docsRouter, type DocsPaths } from './pages.ts';

export { buildDocument, type DocumentInfo, type LicenseInfo, type OpenApiDocument, type Operation, type TagInfo } from './document.ts';
export { REDOC_CSP, SWAGGER_CSP, type DocsPaths } from './pages.ts';

/** Where the docs are served and which servers the document lists: `config.docs`. */
export interface DocsConfig extends DocsPaths {
  servers: string[];
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string; description?: string; license?: string };
// package.json's `license` is an SPDX expression (npm's UNLICENSED is not one, and names no licence to show).
const pkgLicense = pkg.license !== undefined && pkg.license !== 'UNLICENSED' ? { name: pkg.license, identifier: pkg.license } : undefined;

const mounted = new WeakMap<App, OpenApiDocument>();

/**
 * The app's document: the one mountDocs built, else a new one. Title, version, description and licence default
 * to package.json's name, version, description and license.
 */
export function openApiDocument(app: App, info: Partial<DocumentInfo> = {}): OpenApiDocument {
  const built = mounted.get(app);
  if (built !== undefined) return built;
  return buildDocument(app.routes(), { title: pkg.name, version: pkg.version, description: pkg.description, license: pkgLicense, ...info });
}

/**
 * Adds the docs routes to the app (none when `docs` is null) and builds the document at once, so a bad route
 * table (one operationId on two routes, one $id on two schemas) stops the start-up even with the docs off.
 * Call it last: it fixes the app's route table.
 */
export function mountDocs(app: App, docs: DocsConfig | null, info: Partial<Omit<DocumentInfo, 'servers'>> = {}): OpenApiDocument {
  let json = '';
  if (docs !== null) app.include(docsRouter(docs, info.title ?? pkg.name, () => json));
  const document = openApiDocument(app, { ...info, servers: docs?.servers ?? [] });
  json = JSON.stringify(document);
  mounted.set(app, document);
  return document;
}
