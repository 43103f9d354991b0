// What runs in production imports only runtime dependencies: every bare import in src/ names a Node built-in or a
// package of `dependencies`, so `npm ci --omit=dev` (and `npm install skiff`) is enough to run any of it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** The package a bare specifier names ('redis', '@sinclair/typebox'); null for a relative path. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : []);
}

test('every package src/ imports at run time is a Node built-in or a runtime dependency', () => {
  const builtins = new Set(builtinModules);
  const outside: string[] = [];
  let imports = 0;
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    if (file.includes(`${join('openapi', 'vendor')}`)) continue; // a prebuilt browser bundle, served, never imported
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports (type-only ones vanish at run time), dynamic import(), require() and createRequire(…).resolve().
    const found = [
      ...[...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]),
      ...[...text.matchAll(/(?:\bimport|\brequire|\brequire\.resolve|\)\.resolve)\(\s*'([^']+)'/g)].map((m) => m[1]),
    ];
    for (const specifier of found) {
      const name = packageOf(specifier);
      if (name === null) continue;
      imports++;
      if (!name.startsWith('node:') && !builtins.has(name) && !(name in pkg.dependencies)) outside.push(`${relative(ROOT, file)}: ${specifier}`);
    }
  }
  assert.ok(imports > 10, `the scan found the imports (${imports})`);
  assert.deepEqual(outside, [], 'imports of packages that are not runtime dependencies');
});
