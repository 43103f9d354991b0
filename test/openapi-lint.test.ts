// The document the running API serves (src/server.ts's startApi, not a test build of the app): lint-clean under
// Redocly CLI's `recommended` ruleset, and equal to the committed snapshot docs/openapi.json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { SNAPSHOT, snapshotText } from '../scripts/openapi.ts';
import { startLiveApi, type LiveApi } from './support/live-api.ts';

const redoclyCli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'skiff-openapi-lint-'));
let api: LiveApi;
let served: string;

before(async () => {
  api = await startLiveApi();
  const res = await fetch(api.url + '/openapi.json');
  assert.equal(res.status, 200);
  served = await res.text();
});
after(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

/** `redocly lint --extends recommended` on a document, in a directory without a redocly.yaml to pick up. */
function lint(name: string, document: string): Promise<LintReport> {
  const file = join(dir, name);
  writeFileSync(file, document);
  // Telemetry and the update check would reach the network from a test.
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [redoclyCli, 'lint', '--extends', 'recommended', '--format', 'json', file], { cwd: dir, env, timeout: 60_000 }, (err, stdout) => {
      try {
        resolve(JSON.parse(stdout) as LintReport);
      } catch {
        reject(err ?? new Error(`redocly printed no report: ${stdout.slice(0, 500)}`));
      }
    });
  });
}

const describe = (report: LintReport): string[] => report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);

test('the served /openapi.json passes Redocly lint (recommended) with no error and no warning', async () => {
  const report = await lint('served.json', served);
  assert.deepEqual(describe(report), []);
  assert.deepEqual([report.totals.errors, report.totals.warnings], [0, 0]);
});

test('the linter is live: a document without a licence, servers or a public security list is reported', async () => {
  const broken = JSON.parse(served);
  delete broken.info.license;
  delete broken.servers;
  delete broken.paths['/healthz'].get.security;
  const rules = new Set((await lint('broken.json', JSON.stringify(broken))).problems.map((p) => p.ruleId));
  for (const rule of ['info-license', 'no-empty-servers', 'security-defined']) assert.ok(rules.has(rule), rule);
});

test('the served document equals the committed snapshot docs/openapi.json (run `npm run openapi` after an API change)', () => {
  assert.equal(snapshotText(JSON.parse(served)), readFileSync(SNAPSHOT, 'utf8'));
});
