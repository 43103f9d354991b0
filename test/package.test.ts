// The package as a newcomer gets it: the README's "Build your own service" commands run as written (they pack
// this checkout and install the tarball into an empty project), its files saved, its type check passed, its
// service started the way it says, its calls answered as its comments say, and SIGTERM stops API and worker with
// exit 0. The README is the script: change
// the walkthrough and this test runs the new one. Only the port, the metrics port and Redis come from the test.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/redis/index.ts';
import { until } from './support/queue.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; devDependencies: Record<string, string> };

interface Walkthrough {
  /** Shell commands from an empty folder to an installed project; they end inside it. */
  setup: string;
  /** The files the README says to save, by name. */
  files: { name: string; text: string }[];
  /** The command that runs the service, as argv. */
  start: string[];
  /** Each call: the command line and the JSON fields its comment promises. */
  calls: { command: string; expected: Record<string, unknown> }[];
  /** Shell commands that type-check the project. */
  typecheck: string;
}

function readWalkthrough(readme: string): Walkthrough {
  const section = readme.split('\n## Build your own service\n')[1]?.split('\n## ')[0];
  assert.ok(section, 'the README has a "Build your own service" section');
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m, i, all) => {
    // A file block is named in the prose before it: "save this as `hello/service.ts`".
    const prose = section.slice(i === 0 ? 0 : all[i - 1].index + all[i - 1][0].length, m.index);
    return { lang: m[1], text: m[2], name: [...prose.matchAll(/`(?:[\w-]+\/)?([\w.-]+\.(?:ts|json))`/g)].at(-1)?.[1] };
  });
  assert.deepEqual(blocks.map((b) => b.lang), ['sh', 'ts', 'sh', 'sh', 'json', 'sh'], 'setup, service file, start, calls, tsconfig, type check');
  const files = blocks.filter((b) => b.lang !== 'sh').map(({ name, text }) => {
    assert.ok(name, `the section names the file to save:\n${text}`);
    return { name, text };
  });
  const withoutComment = (line: string) => line.replace(/\s+#.*$/, '').trim();
  const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
  const [start, ...more] = lines(blocks[2].text).map(withoutComment);
  assert.equal(more.length, 0, 'one start command');
  return {
    setup: blocks[0].text,
    files,
    start: start.split(/\s+/),
    calls: lines(blocks[3].text).map((line) => {
      const promise = /#\s*(\{.*\})/.exec(line)?.[1];
      assert.ok(promise, `the call says what it answers: ${line}`);
      return { command: withoutComment(line), expected: JSON.parse(promise) as Record<string, unknown> };
    }),
    typecheck: blocks[5].text,
  };
}

const walkthrough = readWalkthrough(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'skiff-package-'));
let redis: TestRedis;
let project: string;
let service: ChildProcess | null = null;

before(async () => {
  redis = await startTestRedis();
  // "An empty folder next to your skiff checkout".
  symlinkSync(ROOT, join(work, 'skiff'));
});

after(async () => {
  if (service !== null && service.exitCode === null && service.signalCode === null) service.kill('SIGKILL');
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('the README walkthrough, from an empty folder: npm pack, install, a two-route service with a job, stop', async (t) => {
  // From the local npm cache where it can (the registry is reachable for the rest); no audit or funding calls.
  const npmEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  const setup = await run('sh', ['-ec', `${walkthrough.setup}\npwd`], { cwd: work, env: npmEnv, maxBuffer: 16 << 20 });
  project = setup.stdout.trim().split('\n').at(-1)!;
  for (const file of walkthrough.files) writeFileSync(join(project, file.name), file.text);

  // What `npm install skiff` brings is what `npm ci --omit=dev` keeps: the runtime closure, no dev dependency.
  const installed = readdirSync(join(project, 'node_modules')).flatMap((d) =>
    d.startsWith('@') ? readdirSync(join(project, 'node_modules', d)).map((s) => `${d}/${s}`) : d.startsWith('.') ? [] : [d]);
  const dev = installed.filter((name) => name in pkg.devDependencies);
  assert.deepEqual(dev, [], 'no dev dependency is installed with the package');
  const { stdout: size } = await run('du', ['-sk', join(project, 'node_modules')]);
  t.diagnostic(`installed: ${installed.length} packages, ${Math.round(Number(size.split('\t')[0]) / 1024)} MiB: ${installed.join(' ')}`);

  // The user's tsc, with the README's settings, reads skiff's types through `exports` and accepts the service.
  await run('sh', ['-ec', walkthrough.typecheck], { cwd: project, env: npmEnv, maxBuffer: 16 << 20 }).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`the type check failed: ${err.stdout ?? ''}${err.message}`);
  });

  // Every face in `exports` loads in the user's project.
  const faces = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => k.replace(/^\./, 'skiff'));
  await run('node', ['--import', 'tsx', '--input-type=module', '-e', `for (const face of ${JSON.stringify(faces)}) await import(face);`], { cwd: project });

  const port = await freePort();
  const [command, ...args] = walkthrough.start;
  service = spawn(command, args, {
    cwd: project,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), METRICS_PORT: String(await freePort()), REDIS_URL: redis.url, WEB_CONCURRENCY: '1', WORKER_CONCURRENCY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  service.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  service.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) => service!.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await until(() => output.includes('"msg":"all workers ready"') || service!.exitCode !== null, 60_000, 'API and worker ready');
  assert.ok(output.includes('"msg":"all workers ready"'), `the service started:\n${output}`);

  // Each call as written, on the test's port; it must answer the fields its comment shows (a job's may take a moment).
  for (const { command: call, expected } of walkthrough.calls) {
    let answer: Record<string, unknown> = {};
    const matches = () => Object.entries(expected).every(([k, v]) => JSON.stringify(answer[k]) === JSON.stringify(v));
    await until(async () => {
      const { stdout } = await run('sh', ['-c', call.replaceAll('localhost:8000', `127.0.0.1:${port}`)]);
      answer = JSON.parse(stdout) as Record<string, unknown>;
      return matches();
    }, 20_000, `${call} to answer ${JSON.stringify(expected)}`).catch((err: Error) => {
      throw new Error(`${err.message}; last answer ${JSON.stringify(answer)}`);
    });
  }

  service.kill('SIGTERM');
  assert.equal(await exited, 0, `a graceful stop:\n${output.slice(-2000)}`);
  assert.match(output, /"group":"worker".*"code":0/, 'the queue worker stopped with exit 0');
});
