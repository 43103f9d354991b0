// `npm run openapi`: writes the example service's OpenAPI document to docs/openapi.json, the snapshot that
// test/openapi-lint.test.ts compares with the document the running API serves. Built from the default
// configuration (not this shell's environment) so that the snapshot does not depend on who ran it, and wired
// as src/server.ts wires the app, so that it is the document the server serves.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createClient } from 'redis';
import { buildApp } from '../src/app/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { openApiDocument } from '../src/openapi/index.ts';
import type { Redis } from '../src/redis/index.ts';

export const SNAPSHOT = new URL('../docs/openapi.json', import.meta.url);

/** The document as text, the way the snapshot stores it. */
export const snapshotText = (document: unknown): string => JSON.stringify(document, null, 2) + '\n';

export function defaultDocument(): unknown {
  // The document needs the routes, not a connection: this client is never connected.
  const redis = createClient() as unknown as Redis;
  const app = buildApp({
    config: loadConfig({}),
    log: createLogger('silent'),
    redis,
    isDraining: () => false,
    pingRedis: async () => true,
  });
  return openApiDocument(app);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(SNAPSHOT, snapshotText(defaultDocument()));
  process.stdout.write(`wrote ${SNAPSHOT.pathname}\n`);
}
