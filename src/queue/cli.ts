// Operating a queue from a shell (`npm run queue -- <command>`), reading the same env as the API and workers.
//   check                 exit 0 when at least one worker heartbeated within its lease, else 1 (like `arq --check`)
//   stats                 queued, in progress, delayed, dead, oldest wait, processed/failed counts
//   inspect <id>          the job's record as JSON (exit 1 when not found)
//   replay-dead [--limit N]  re-enqueue the oldest N dead letters (default 100)
import { loadConfigOrExit } from '../config.ts';
import { createLogger } from '../log.ts';
import { closeRedis, createRedis, pingRedis } from '../redis/index.ts';
import { createQueue, QueuePartitionsError } from './queue.ts';

const USAGE = 'usage: npm run queue -- check | stats | inspect <id> | replay-dead [--limit N]';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfigOrExit();
  const log = createLogger('warn', { service: 'skiff-queue-cli' });
  const redis = createRedis({ url: config.redisUrl ?? 'redis://127.0.0.1:6379', topology: config.redisTopology, access: config.redisAccess, commandTimeoutMs: config.redisCommandTimeoutMs, log, name: 'queue-cli' });
  const queue = createQueue({ redis, prefix: config.redisPrefix, name: config.queue.name, jobs: [], commandTimeoutMs: config.redisCommandTimeoutMs, retention: config.queue.retention, partitions: config.queue.partitions });
  const out = (line: string) => process.stdout.write(line + '\n');
  try {
    const deadline = Date.now() + 3000;
    while (!(await pingRedis(redis, 300))) {
      if (Date.now() > deadline) {
        out('redis unreachable');
        return 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // Read without recording: a shell with another QUEUE_PARTITIONS would show or replay part of the queue.
    try {
      await queue.checkPartitions(false);
    } catch (err) {
      if (!(err instanceof QueuePartitionsError)) throw err;
      out(`skiff: ${err.message}`);
      return 1;
    }
    switch (command) {
      case 'check': {
        const workers = await queue.liveWorkers();
        out(workers.length > 0 ? `ok: ${workers.length} live worker(s): ${workers.join(', ')}` : `no live worker on queue ${queue.name}`);
        return workers.length > 0 ? 0 : 1;
      }
      case 'stats': {
        const stats = await queue.stats();
        const width = Math.max(...Object.keys(stats).map((k) => k.length));
        for (const [k, v] of Object.entries(stats)) out(`${k.padEnd(width)}  ${v}`);
        return 0;
      }
      case 'inspect': {
        if (rest[0] === undefined) break;
        const job = await queue.getJob(rest[0]);
        out(job === null ? `job ${rest[0]}: not_found` : JSON.stringify(job, null, 2));
        return job === null ? 1 : 0;
      }
      case 'replay-dead': {
        const at = rest.indexOf('--limit');
        const limit = at === -1 ? 100 : Number(rest[at + 1]);
        if (!Number.isInteger(limit) || limit < 1) break;
        out(`replayed ${await queue.replayDead(limit)} dead job(s)`);
        return 0;
      }
    }
    out(USAGE);
    return 2;
  } finally {
    await closeRedis(redis);
  }
}

process.exitCode = await main(process.argv.slice(2));
