// The `skiff` package's createApp (src/service/app.ts): the environment's settings, and Redis failures answered
// 503 without the service registering anything; a handler of the service's own is asked first. Run in-process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { loadConfig } from '../src/config.ts';
import { HttpError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { RedisTimeoutError } from '../src/redis/index.ts';
import { createRouter } from '../src/router/index.ts';
import { createServiceApp } from '../src/service/index.ts';
import { inject } from '../src/testing/index.ts';

const config = loadConfig({ BODY_LIMIT_BYTES: '100' });
const log = createLogger('silent');
const routes = () => createRouter()
  .get('/read', { response: { 200: Type.Object({}) } }, () => Promise.reject(new RedisTimeoutError('redis call timed out')))
  .post('/echo', { body: Type.Object({ text: Type.String() }), response: { 200: Type.Object({ text: Type.String() }) } }, (ctx) => ctx.body);

test('createApp answers a Redis timeout 503 with Retry-After and takes the body limit from the config', async () => {
  const client = inject(createServiceApp({ config, log }).include(routes()));
  const read = await client.get('/read');
  assert.equal(read.status, 503);
  assert.equal(read.json().code, 'SERVICE_UNAVAILABLE');
  assert.ok(read.headers.get('retry-after'));
  assert.equal((await client.post('/echo', { text: 'x'.repeat(50) })).status, 200);
  assert.equal((await client.post('/echo', { text: 'x'.repeat(150) })).status, 413);
  await client.close();
});

test("createApp asks the service's own error handler before the Redis default", async () => {
  const onError = (err: unknown) => (err instanceof RedisTimeoutError ? HttpError.of('CONFLICT', 'mapped by the service') : undefined);
  const client = inject(createServiceApp({ config, log, onError }).include(routes()));
  const read = await client.get('/read');
  assert.deepEqual([read.status, read.json().detail], [409, 'mapped by the service']);
  await client.close();
});
