// The catalogue: CRUD over items with cursor pagination; writes need an API key.
import { Type } from '@sinclair/typebox';
import { cacheFromConfig } from '../cache/index.ts';
import type { Deadline } from '../deadline.ts';
import { idempotencyFromConfig, idempotencyId } from '../idempotency/index.ts';
import { HttpError, createRouter } from '../router/index.ts';
import { ProblemSchema } from '../errors.ts';
import { apiKeyDependency } from './auth.ts';
import { createItemStore } from './item-store.ts';
import type { AppLimits } from './limits.ts';
import { Item, ItemCreate, ItemId, ItemPage, ItemPatch } from './schemas.ts';
import type { AppServices } from './services.ts';

const ById = Type.Object({ id: ItemId });
const notFound = { description: 'No item has this id.', schema: ProblemSchema };
const unavailable = {
  description: 'Redis did not answer within the request\'s deadline. `applied: false` (code SERVICE_UNAVAILABLE): nothing was '
    + 'changed, retry after `Retry-After`; code OUTCOME_UNKNOWN: a write may have been applied, check before retrying.',
  schema: ProblemSchema,
  headers: { 'retry-after': { description: 'Seconds to wait before retrying.', schema: Type.String() } },
};
const missing = (id: string) => HttpError.of('NOT_FOUND', `No item has the id ${id}.`);

export function itemsRouter(services: AppServices, limits: AppLimits) {
  const { config, redis } = services;
  const store = createItemStore(redis, config.redisPrefix, config.redisCommandTimeoutMs);
  const apiKey = apiKeyDependency(config.apiKeys);
  // Reads are cached for everybody under the tag `items`; every write invalidates the tag before it answers,
  // so a client never reads its own write stale. Within a minute of freshness, a Redis failure is answered
  // from the stale entry.
  const cache = services.cache ?? cacheFromConfig(config, redis, services.log);
  // A request carrying an API key (or other credentials) is answered by the handler, never from the shared entry.
  const cached = cache.route({ ttl: 60, scope: 'public', tags: ['items'], staleIfError: 60, credentialHeaders: ['authorization', 'cookie', 'x-api-key'] });
  const invalidate = (deadline: Deadline) => cache.invalidate({ tags: ['items'] }, deadline);

  return createRouter({ prefix: '/items', tags: ['items'] })
    .get(
      '/',
      {
        summary: 'List items',
        description: 'Items in creation order, optionally only those with a tag. Follow `next_cursor` for the next page.',
        operationId: 'listItems',
        query: Type.Object({
          tag: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: 'Only items carrying this tag.' })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size.' }),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9a-z]{16,32}$', description: 'The `next_cursor` of the previous page.' })),
        }),
        response: { 200: ItemPage, 503: unavailable },
        use: [limits.reads, cached],
      },
      (ctx) => store.list(ctx.query, ctx.deadline),
    )
    .post(
      '/',
      {
        summary: 'Create an item',
        description: 'Send an `Idempotency-Key` to retry safely: a retry creates nothing new and gets the first answer.',
        operationId: 'createItem',
        body: ItemCreate,
        deps: { auth: apiKey },
        use: [limits.writes, idempotencyFromConfig(config, redis, services.log)],
        response: { 201: { description: 'Created; `Location` points at the new item.', schema: Item, headers: { location: { schema: Type.String() } } }, 503: unavailable },
      },
      async (ctx) => {
        // The operation id is the item's id: a retry under the same Idempotency-Key rewrites the same item.
        const item = await store.create(ctx.body, ctx.deadline, idempotencyId(ctx));
        await invalidate(ctx.deadline);
        return ctx.reply(201, item, { location: `/v1/items/${item.id}` });
      },
    )
    .get(
      '/{id}',
      { summary: 'Get an item', operationId: 'getItem', params: ById, response: { 200: Item, 404: notFound, 503: unavailable }, use: [limits.reads, cached] },
      async (ctx) => (await store.get(ctx.params.id, ctx.deadline)) ?? Promise.reject(missing(ctx.params.id)),
    )
    .patch(
      '/{id}',
      {
        summary: 'Update an item',
        description: 'Changes only the fields sent.',
        operationId: 'updateItem',
        params: ById,
        body: ItemPatch,
        deps: { auth: apiKey },
        use: [limits.writes],
        response: { 200: Item, 404: notFound, 503: unavailable },
      },
      async (ctx) => {
        const item = await store.patch(ctx.params.id, ctx.body, ctx.deadline);
        if (item === null) throw missing(ctx.params.id);
        await invalidate(ctx.deadline);
        return item;
      },
    )
    .delete(
      '/{id}',
      { summary: 'Delete an item', operationId: 'deleteItem', params: ById, deps: { auth: apiKey }, use: [limits.writes], response: { 204: { description: 'Deleted.' }, 404: notFound, 503: unavailable } },
      async (ctx) => {
        if (!(await store.delete(ctx.params.id, ctx.deadline))) throw missing(ctx.params.id);
        await invalidate(ctx.deadline);
      },
    );
}
