// Catalogue exports as background jobs: POST /v1/exports enqueues `catalog.export`, which walks the catalogue
// page by page, reports progress, and stores the file (CSV or NDJSON, capped at EXPORT_MAX_BYTES: past it the
// export stops and says `truncated`); GET /v1/exports/{id}/file downloads it. Status lives at /v1/jobs/{id}.
// Each API key may hold EXPORT_MAX_STORED_BYTES of export files at once (see export-store.ts).
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config.ts';
import { ProblemSchema } from '../errors.ts';
import { idempotencyFromConfig, idempotencyId } from '../idempotency/index.ts';
import { createQueue, defineJob, JobInterrupted, jobVisibleTo, type JobContext, type JobDefinition, type Queue } from '../queue/index.ts';
import { withTimeout } from '../redis/index.ts';
import { HttpError, createRouter } from '../router/index.ts';
import { apiKeyDependency } from './auth.ts';
import { createExportStore, DOWNLOAD_CHUNK_BYTES, type ExportOwner } from './export-store.ts';
import { createItemStore } from './item-store.ts';
import { itemKeys } from './keys.ts';
import type { AppLimits } from './limits.ts';
import type { Item } from './schemas.ts';
import type { AppServices } from './services.ts';

/** Largest export file kept (5 MiB); a bigger catalogue is cut at a whole line and the result says `truncated`. */
export const EXPORT_MAX_BYTES = 5 * 1024 * 1024;
/** How long a finished export (status and file) stays downloadable. */
export const EXPORT_KEEP_S = 3600;
const PAGE = 100;
const EXPORT_TIMEOUT_MS = 120_000;
const EXPORT_MAX_TRIES = 3;
/** Bound on each Redis call of the export job (the worker's calls are not request-bound). */
const JOB_REDIS_MS = 5000;
/** The job sends its file to Redis in chunks of about this size, so it never holds the whole file. */
const WRITE_CHUNK_BYTES = 64 * 1024;

export const ExportRequest = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { description: 'csv: a header line, then one row per item; ndjson: one JSON item per line.' }),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: 'Only items carrying this tag.' })),
  },
  { $id: 'ExportRequest', additionalProperties: false },
);

/** What the job gets: the request, plus who it counts against (absent for exports enqueued by the operator). */
const ExportJobPayload = Type.Object(
  {
    ...ExportRequest.properties,
    owner: Type.Optional(Type.Object({
      principal: Type.String({ pattern: '^[\\w.:@-]{1,128}$' }),
      reservation: Type.String({ pattern: '^[\\w-]{1,64}$' }),
    }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const ExportResult = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
    items: Type.Integer({ minimum: 0, description: 'Items written.' }),
    bytes: Type.Integer({ minimum: 0 }),
    truncated: Type.Boolean({ description: `True when the file hit the ${EXPORT_MAX_BYTES}-byte cap before the last item.` }),
    file: Type.String({ description: 'Where to download the file.' }),
  },
  { $id: 'ExportResult' },
);

const CSV_HEADER = 'id,name,description,price,tags,created_at,updated_at\n';
/** OWASP CSV injection: a spreadsheet evaluates a cell that starts with one of these as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell: formula-like text gets a leading `'` (shown, not evaluated), and is quoted like any cell that needs it. */
function csvCell(text: string): string {
  const cell = FORMULA_START.test(text) ? `'${text}` : text;
  return cell !== text || /[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** `price` is a number we format, never user text (a negative one would read as a number, not a formula). */
const csvRow = (item: Item): string =>
  `${csvCell(item.id)},${csvCell(item.name)},${csvCell(item.description ?? '')},${item.price},${csvCell(item.tags.join(' '))},${csvCell(item.created_at)},${csvCell(item.updated_at)}\n`;

/** Whether a failing attempt is the export's last: aborted, or out of tries (a lost lease or a shutdown runs it again). */
function isLastAttempt(ctx: JobContext): boolean {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof JobInterrupted) return reason.kind === 'abort' || (reason.kind === 'timeout' && ctx.attempt >= EXPORT_MAX_TRIES);
  return ctx.attempt >= EXPORT_MAX_TRIES;
}

/** The export job, bound to this deployment's key prefix (the API enqueues it, the worker runs it). */
export function catalogExportJob(prefix: string) {
  const keys = itemKeys(prefix);
  return defineJob({
    name: 'catalog.export',
    payload: ExportJobPayload,
    result: ExportResult,
    timeoutMs: EXPORT_TIMEOUT_MS,
    maxTries: EXPORT_MAX_TRIES,
    keepResultS: EXPORT_KEEP_S,
    handler: async ({ format, tag, owner }, ctx) => {
      const files = createExportStore(ctx.redis, prefix, JOB_REDIS_MS);
      try {
        const store = createItemStore(ctx.redis, prefix, JOB_REDIS_MS);
        const total = await withTimeout(ctx.redis.zCard(tag === undefined ? keys.all : keys.tag(tag)), JOB_REDIS_MS);
        // Lines gather into a chunk that goes to Redis once it is big enough; a running count measures the
        // file (measuring the growing file itself made a 5 MiB export quadratic: seconds of CPU).
        const chunk: string[] = format === 'csv' ? [CSV_HEADER] : [];
        let chunkBytes = format === 'csv' ? CSV_HEADER.length : 0;
        let bytes = chunkBytes;
        let items = 0;
        let truncated = false;
        let reported = -1;
        let cursor: string | undefined;
        const flush = async () => {
          await files.append(ctx.jobId, ctx.attempt, chunk.join(''), EXPORT_TIMEOUT_MS);
          chunk.length = 0;
          chunkBytes = 0;
        };
        do {
          ctx.signal.throwIfAborted();
          const page = await store.list({ tag, limit: PAGE, cursor });
          for (const item of page.items) {
            const line = format === 'csv' ? csvRow(item) : JSON.stringify(item) + '\n';
            const size = Buffer.byteLength(line);
            if (bytes + size > EXPORT_MAX_BYTES) {
              truncated = true;
              break;
            }
            chunk.push(line);
            chunkBytes += size;
            bytes += size;
            items++;
          }
          if (chunkBytes >= WRITE_CHUNK_BYTES) await flush();
          cursor = page.next_cursor ?? undefined;
          const percent = total === 0 ? 100 : Math.min(100, Math.round((items / total) * 100));
          if (percent !== reported) await ctx.progress((reported = percent));
        } while (cursor !== undefined && !truncated);
        if (chunk.length > 0) await flush();
        const stored = await files.store(ctx.jobId, ctx.attempt, owner, Date.now() + EXPORT_KEEP_S * 1000);
        return { format, items, bytes: stored, truncated, file: `/v1/exports/${ctx.jobId}/file` };
      } catch (err) {
        // An export that will never store its file stops counting against its owner now, not in an hour.
        if (owner !== undefined && isLastAttempt(ctx)) await files.release(owner).catch(() => {});
        throw err;
      }
    },
  });
}

/** The example app's job definitions: what its queue knows and its worker runs. */
export function appJobs(config: Config): JobDefinition[] {
  return [catalogExportJob(config.redisPrefix)];
}

export function appQueue(services: AppServices): Queue {
  const { config } = services;
  return services.queue ?? createQueue({
    redis: services.redis, prefix: config.redisPrefix, name: config.queue.name, jobs: appJobs(config), commandTimeoutMs: config.redisCommandTimeoutMs,
    retention: config.queue.retention, replicaAck: config.queue.replicaAck, partitions: config.queue.partitions,
  });
}

/** Whether a failed enqueue certainly wrote nothing: refused as invalid, or a 503 saying `applied: false`. */
const notEnqueued = (err: unknown) => err instanceof HttpError && (err.status < 500 || err.applied === false);

const notFound = { description: 'No export has this id, or it expired.', schema: ProblemSchema };

export function exportsRouter(services: AppServices, queue: Queue, limits: AppLimits) {
  const { config, redis } = services;
  const exportJob = queue.jobs.get('catalog.export') as ReturnType<typeof catalogExportJob>;
  const files = createExportStore(redis, config.redisPrefix, config.redisCommandTimeoutMs);
  const maxStored = config.exportMaxStoredBytes;
  const auth = apiKeyDependency(config.apiKeys);
  // Every export route needs the key; `ctx.deps.auth` is typed in each handler below.
  const router = createRouter({ prefix: '/exports', tags: ['exports'], dependencies: { auth } });
  router.post('/', {
    summary: 'Export the catalogue',
    description: 'Enqueues an export and answers at once; follow `Location` (or its `/events`) until it is complete, '
      + `then download \`result.file\`. Files are capped at ${EXPORT_MAX_BYTES} bytes and kept ${EXPORT_KEEP_S} s. `
      + 'The export belongs to the API key that asked for it; send an `Idempotency-Key` to retry safely. '
      + `Each API key may hold ${maxStored} bytes of exports (\`EXPORT_MAX_STORED_BYTES\`): its unexpired files at their `
      + `size, and each export not yet complete at the ${EXPORT_MAX_BYTES}-byte file cap; past it, 429 and nothing is enqueued.`,
    operationId: 'createExport',
    body: ExportRequest,
    use: [limits.writes, idempotencyFromConfig(config, redis, services.log)],
    response: {
      202: { description: 'Enqueued; `Location` is the job.', schema: Type.Object({ id: Type.String(), status: Type.String() }), headers: { location: { schema: Type.String() } } },
      429: {
        description: 'This API key holds as many export bytes as it may; `Retry-After` says when its oldest export stops counting (one still running frees its share sooner, when it completes).',
        schema: ProblemSchema,
        headers: { 'retry-after': { description: 'Seconds.', schema: Type.Integer({ minimum: 1 }) } },
      },
      503: {
        description: 'The queue did not answer in time and the export was not enqueued (`applied: false`; it does not count against the cap); '
          + 'or the answer was lost, or, with QUEUE_WAIT_REPLICAS, too few Redis replicas acknowledged it in time (OUTCOME_UNKNOWN, no `applied`): '
          + 'it may exist and run, so it counts against the cap like one enqueued, and a retry with the same Idempotency-Key is safe (it counts once).',
        schema: ProblemSchema,
      },
    },
  }, async (ctx) => {
    // The operation id of an Idempotency-Key names the reservation and the job: a retry that runs again (after a
    // 503, or a lapsed claim) reserves and enqueues the same ones, so it counts once and adds no second export.
    const operation = idempotencyId(ctx);
    const principal = ctx.deps.auth.keyId;
    const owner: ExportOwner = { principal, reservation: operation ?? randomUUID() };
    // Until it stores its file, an export counts at the most it may store; reserving first keeps concurrent
    // requests from passing the cap together.
    const held = await ctx.deadline.bound(files.reserve(owner, EXPORT_MAX_BYTES, Date.now() + EXPORT_KEEP_S * 1000, maxStored));
    if (!held.granted) {
      throw HttpError.of('QUOTA_EXCEEDED', `This API key holds ${held.heldBytes} bytes of exports; another could pass its ${maxStored}-byte cap.`, {
        headers: { 'retry-after': String(held.retryAfterS) },
      });
    }
    let job;
    try {
      job = await queue.enqueue(exportJob, { ...ctx.body, owner }, { id: operation, owner: principal, deadline: ctx.deadline.expiresAt });
    } catch (err) {
      // Only an enqueue that certainly wrote nothing gives the bytes back. An OUTCOME_UNKNOWN one (the answer lost,
      // or the job on the master but unconfirmed by QUEUE_WAIT_REPLICAS) may run: it keeps counting until it
      // stores its file, or until the reservation lapses.
      if (held.fresh && notEnqueued(err)) await files.release(owner).catch(() => {});
      throw err;
    }
    // A retry whose reservation had already expired: the export it names counts (or did) on its own.
    if (!job.created && held.fresh) await files.release(owner).catch(() => {});
    return ctx.reply(202, { id: job.id, status: job.initialStatus }, { location: `/v1/jobs/${job.id}` });
  });
  router.get('/{id}/file', {
    summary: 'Download an export',
    description: 'The finished file, as an attachment (text/csv or application/x-ndjson) with its `Content-Length`, '
      + 'streamed from Redis a chunk at a time.',
    operationId: 'getExportFile',
    params: Type.Object({ id: Type.String({ maxLength: 200 }) }),
    response: {
      200: { description: 'The file.', contentType: 'text/csv', schema: Type.String(), headers: { 'content-length': { schema: Type.Integer({ minimum: 0 }) } } },
      404: notFound,
      409: { description: 'The export has not completed (yet).', schema: ProblemSchema },
      503: { description: 'Redis does not answer; retry shortly.', schema: ProblemSchema },
    },
  }, async (ctx) => {
    const { id } = ctx.params;
    const job = await queue.getJob(id);
    if (job === null || job.name !== exportJob.name || !jobVisibleTo(job, ctx.principal)) throw HttpError.of('NOT_FOUND', `No export has the id ${id}.`);
    if (job.status !== 'complete') throw HttpError.of('CONFLICT', `The export is ${job.status}, not complete.`);
    const size = await ctx.deadline.bound(files.size(id));
    if (size === null) throw HttpError.of('NOT_FOUND', `The file of export ${id} expired.`);
    const { format } = job.result as { format: 'csv' | 'ndjson' };
    // A byte stream with a one-chunk buffer: the next chunk is read from Redis only once the socket took the last.
    const body = Readable.from(files.read(id, size), { objectMode: false, highWaterMark: DOWNLOAD_CHUNK_BYTES });
    return ctx.stream(200, body, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="catalog-${id}.${format}"`,
      'content-length': String(size),
    });
  });
  return router;
}
