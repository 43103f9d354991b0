// Catalogue exports as background jobs: POST /v1/exports enqueues `catalog.export`, which walks the catalogue
// page by page, reports progress, and stores the file (CSV or NDJSON, capped at EXPORT_MAX_BYTES: past it the
// export stops and says `truncated`); GET /v1/exports/{id}/file downloads it. Status lives at /v1/jobs/{id}.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config.ts';
import { ProblemSchema } from '../errors.ts';
import { createQueue, defineJob, type JobDefinition, type Queue } from '../queue/index.ts';
import { withTimeout } from '../redis/index.ts';
import { HttpError, createRouter } from '../router/index.ts';
import { apiKeyDependency } from './auth.ts';
import { createItemStore } from './item-store.ts';
import { exportFileKey, itemKeys } from './keys.ts';
import type { Item } from './schemas.ts';
import type { AppServices } from './services.ts';

/** Largest export file kept (5 MiB); a bigger catalogue is cut at a whole line and the result says `truncated`. */
export const EXPORT_MAX_BYTES = 5 * 1024 * 1024;
/** How long a finished export (status and file) stays downloadable. */
export const EXPORT_KEEP_S = 3600;
const PAGE = 100;

export const ExportRequest = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { description: 'csv: a header line, then one row per item; ndjson: one JSON item per line.' }),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: 'Only items carrying this tag.' })),
  },
  { $id: 'ExportRequest', additionalProperties: false },
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

const CSV_COLUMNS = ['id', 'name', 'description', 'price', 'tags', 'created_at', 'updated_at'] as const;
const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
const csvRow = (item: Item) => CSV_COLUMNS.map((c) => csvCell(c === 'tags' ? item.tags.join(' ') : String(item[c] ?? ''))).join(',') + '\n';

/** The export job, bound to this deployment's key prefix (the API enqueues it, the worker runs it). */
export function catalogExportJob(prefix: string) {
  const keys = itemKeys(prefix);
  return defineJob({
    name: 'catalog.export',
    payload: ExportRequest,
    result: ExportResult,
    timeoutMs: 120_000,
    maxTries: 3,
    keepResultS: EXPORT_KEEP_S,
    handler: async ({ format, tag }, ctx) => {
      const store = createItemStore(ctx.redis, prefix, 5000);
      const total = await ctx.redis.zCard(tag === undefined ? keys.all : keys.tag(tag));
      let file = format === 'csv' ? CSV_COLUMNS.join(',') + '\n' : '';
      let items = 0;
      let truncated = false;
      let cursor: string | undefined;
      do {
        ctx.signal.throwIfAborted();
        const page = await store.list({ tag, limit: PAGE, cursor });
        for (const item of page.items) {
          const line = format === 'csv' ? csvRow(item) : JSON.stringify(item) + '\n';
          if (Buffer.byteLength(file) + Buffer.byteLength(line) > EXPORT_MAX_BYTES) {
            truncated = true;
            break;
          }
          file += line;
          items++;
        }
        cursor = page.next_cursor ?? undefined;
        await ctx.progress(total === 0 ? 100 : Math.min(100, Math.round((items / total) * 100)));
      } while (cursor !== undefined && !truncated);
      await ctx.redis.set(exportFileKey(prefix, ctx.jobId), file, { EX: EXPORT_KEEP_S });
      return { format, items, bytes: Buffer.byteLength(file), truncated, file: `/v1/exports/${ctx.jobId}/file` };
    },
  });
}

/** The example app's job definitions: what its queue knows and its worker runs. */
export function appJobs(config: Config): JobDefinition[] {
  return [catalogExportJob(config.redisPrefix)];
}

export function appQueue(services: AppServices): Queue {
  const { config } = services;
  return createQueue({ redis: services.redis, prefix: config.redisPrefix, name: config.queue.name, jobs: appJobs(config), commandTimeoutMs: config.redisCommandTimeoutMs });
}

const notFound = { description: 'No export has this id, or it expired.', schema: ProblemSchema };

export function exportsRouter(services: AppServices, queue: Queue) {
  const { config, redis } = services;
  const exportJob = queue.jobs.get('catalog.export') as ReturnType<typeof catalogExportJob>;
  const router = createRouter({ prefix: '/exports', tags: ['exports'] });
  router.post('/', {
    summary: 'Export the catalogue',
    description: 'Enqueues an export and answers at once; follow `Location` (or its `/events`) until it is complete, '
      + `then download \`result.file\`. Files are capped at ${EXPORT_MAX_BYTES} bytes and kept ${EXPORT_KEEP_S} s. `
      + 'The same `Idempotency-Key` with the same body returns the same export; with another body, 409.',
    operationId: 'createExport',
    body: ExportRequest,
    headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
    deps: { auth: apiKeyDependency(config.apiKeys) },
    response: {
      202: { description: 'Enqueued; `Location` is the job.', schema: Type.Object({ id: Type.String(), status: Type.String() }), headers: { location: { schema: Type.String() } } },
      409: { description: 'The Idempotency-Key was used with another body.', schema: ProblemSchema },
      503: { description: 'The queue is unavailable; retry shortly.', schema: ProblemSchema },
    },
  }, async (ctx) => {
    const job = await queue.enqueue(exportJob, ctx.body, { idempotencyKey: ctx.headers['idempotency-key'] });
    return ctx.reply(202, { id: job.id, status: job.initialStatus }, { location: `/v1/jobs/${job.id}` });
  });
  router.get('/{id}/file', {
    summary: 'Download an export',
    description: 'The finished file, as an attachment (text/csv or application/x-ndjson).',
    operationId: 'getExportFile',
    params: Type.Object({ id: Type.String({ maxLength: 200 }) }),
    response: {
      200: { description: 'The file.', contentType: 'text/csv', schema: Type.String() },
      404: notFound,
      409: { description: 'The export has not completed (yet).', schema: ProblemSchema },
      503: { description: 'Redis does not answer; retry shortly.', schema: ProblemSchema },
    },
  }, async (ctx) => {
    const { id } = ctx.params;
    const job = await queue.getJob(id);
    if (job === null || job.name !== exportJob.name) throw HttpError.of('NOT_FOUND', `No export has the id ${id}.`);
    if (job.status !== 'complete') throw HttpError.of('CONFLICT', `The export is ${job.status}, not complete.`);
    const file = await withTimeout(redis.get(exportFileKey(config.redisPrefix, id)), config.redisCommandTimeoutMs).catch((err: unknown) => {
      throw HttpError.of('SERVICE_UNAVAILABLE', undefined, { cause: err });
    });
    if (file === null) throw HttpError.of('NOT_FOUND', `The file of export ${id} expired.`);
    const { format } = job.result as { format: 'csv' | 'ndjson' };
    return ctx.stream(200, Readable.from([file]), {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="catalog-${id}.${format}"`,
    });
  });
  return router;
}
