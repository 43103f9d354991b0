// `npm run build [-- outdir]` (also `npm ci`'s prepare, and the prestart of npm start/serve/worker): compiles the
// example's entry points (src/server.ts, src/worker.ts) to plain JavaScript in dist/, which production runs on
// `node` alone. Under tsx every process pays its loader (a hooks thread with a heap of its own, an esbuild
// service, transpiling at load); loading hundreds of small modules (TypeBox's alone are ~300) costs RSS too. So
// the build bundles, dependencies included, and splits at the entries' dynamic imports: the supervisor loads
// the settings and cluster code, and only the forks load the app. Development and tests run src/ with tsx.
//
// Modules find their files (Lua scripts, the docs pages' assets, package.json) from import.meta.url; in the
// bundle each one's import.meta.url is its source file's, so those paths resolve in src/ as they do under tsx.
// esbuild comes with tsx, so the build needs no dev dependency.
import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = resolve(process.argv[2] ?? `${ROOT}dist`);

/** Every output file is in OUT (chunks too), so a source's URL is the same relative path from each of them. */
const sourceUrls: Plugin = {
  name: 'source-urls',
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const url = `new URL(${JSON.stringify(relative(OUT, args.path))}, import.meta.url).href`;
      return { contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

const { metafile } = await build({
  entryPoints: [`${ROOT}src/server.ts`, `${ROOT}src/worker.ts`],
  outdir: OUT,
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [sourceUrls],
  // node-redis is CommonJS: its require() calls of Node's modules need a require in the ES module output.
  banner: { js: "import { createRequire as skiffCreateRequire } from 'node:module'; const require = skiffCreateRequire(import.meta.url);" },
  // Stack traces name dist/ lines; NODE_OPTIONS=--enable-source-maps maps them back to src/ (at a memory cost).
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
// Chunks of earlier builds go, after the new files are written: a supervisor still running the old build forks
// the new entry, which finds every file it imports.
const written = new Set(Object.keys(metafile.outputs).map((file) => resolve(file)));
for (const file of readdirSync(OUT)) if (!written.has(join(OUT, file))) rmSync(join(OUT, file), { recursive: true });
