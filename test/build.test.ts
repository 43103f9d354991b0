// The compiled service, as `npm start` and the systemd units run it: scripts/build.ts bundles the entry points
// into a folder of its own, and `node server.js --with-workers` serves the example app from it. What the bundle
// could break is what its modules find through import.meta.url (the Lua scripts, the docs pages' assets, the
// package version), what only the forks import (the app, the HTTP server, the queue worker), and the stop.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/redis/index.ts';
import { getJson, startPrimary } from './support/cluster.ts';
import { until } from './support/queue.ts';
import { startTestRedis } from './support/redis.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

test('the bundle serves the example app and runs its jobs, then stops on SIGTERM with exit 0', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'skiff-build-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build.ts'), out], { cwd: ROOT });
  const redis = await startTestRedis();
  t.after(() => redis.stop());
  const port = await freePort();
  const primary = startPrimary({
    script: join(out, 'server.js'),
    plainNode: true,
    args: ['--with-workers'],
    env: { REDIS_URL: redis.url, PORT: String(port), WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1', API_KEYS: 'key', NODE_ENV: 'test' },
  });
  t.after(() => primary.kill());
  await primary.waitFor((l) => l.msg === 'all workers ready', 60_000);
  const base = `http://127.0.0.1:${port}`;

  const doc = await getJson(`${base}/openapi.json`);
  assert.equal(doc.status, 200);
  assert.equal((doc.body as { info: { version: string } }).info.version, pkg.version);
  const css = await fetch(`${base}/docs/swagger-ui.css`);
  assert.equal(css.status, 200);
  assert.ok((await css.arrayBuffer()).byteLength > 10_000, 'the Swagger UI stylesheet from swagger-ui-dist');

  const headers = { 'x-api-key': 'key', 'content-type': 'application/json' };
  const created = await fetch(`${base}/v1/items`, { method: 'POST', headers, body: JSON.stringify({ name: 'Lamp', price: 12.5, tags: ['home'] }) });
  assert.equal(created.status, 201, await created.clone().text());
  const exported = await fetch(`${base}/v1/exports`, { method: 'POST', headers, body: JSON.stringify({ format: 'ndjson' }) });
  assert.equal(exported.status, 202, await exported.clone().text());
  const location = exported.headers.get('location')!;
  let status = '';
  await until(async () => {
    status = ((await (await fetch(`${base}${location}`, { headers })).json()) as { status: string }).status;
    return status === 'complete';
  }, 20_000, 'the export job to complete').catch((err: Error) => {
    throw new Error(`${err.message}; last status ${status}`);
  });

  primary.signal('SIGTERM');
  assert.equal(await primary.exit, 0);
});
