// `npx tsx bench/export.ts`: CPU time of one catalogue export of about 5 MiB (the file cap), run in this process
// against a private redis-server: fills the catalogue, runs the `catalog.export` handler once per format and
// prints the CPU (user + system) it took, with the wall time and the bytes written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogExportJob } from '../src/app/exports.ts';
import { itemKeys } from '../src/app/keys.ts';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, startRedisServer } from '../src/redis/index.ts';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 2600);
const PREFIX = 'bench:';
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-export-'));
const server = await startRedisServer({ dir, appendonly: false });
process.once('exit', () => {
  server.process.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const log = createLogger('warn');
const redis = createRedis({ url: server.url, commandTimeoutMs: 5000, log, name: 'bench-export' });
while (!redis.isReady) await new Promise((r) => setTimeout(r, 10));

// ~2 KB per item: 2,600 items make a CSV just under 5 MiB.
const keys = itemKeys(PREFIX);
const tx = redis.multi();
const now = new Date().toISOString();
for (let i = 0; i < ITEMS; i++) {
  const id = (1_000_000 + i).toString(36).padStart(10, '0') + 'a'.repeat(10);
  tx.hSet(keys.item(id), { id, name: `Item ${i}`, description: 'lorem ipsum, '.repeat(150), price: String(i), tags: '["home"]', created_at: now, updated_at: now });
  tx.zAdd(keys.all, { score: 0, value: id });
}
await tx.exec();

const job = catalogExportJob(PREFIX);
for (const format of ['csv', 'ndjson'] as const) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await job.handler({ format }, {
    jobId: `bench-${format}`, attempt: 1, signal: new AbortController().signal, progress: async () => {}, log, redis,
  });
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({
    format, items: result.items, bytes: result.bytes, truncated: result.truncated,
    cpu_ms: Math.round((used.user + used.system) / 1000), wall_ms: Math.round(performance.now() - started),
  }));
}
await closeRedis(redis);
process.exit(0);
