// The generated TypeScript client against the running example service: its types come from docs/openapi.json
// (so the typecheck proves they line up with what the handlers take and return), and every response it
// receives is also checked against the document.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { createSkiffClient, isValidationProblem, type components, type Item } from '../clients/typescript/index.ts';
import { openApiDocument } from '../src/openapi/index.ts';
import { startExampleApp, TEST_API_KEY, type RunningExample } from './contract-app.ts';
import { openApiContract } from '../src/testing/index.ts';

let running: RunningExample;
let client: ReturnType<typeof createSkiffClient>;

before(async () => {
  running = await startExampleApp({ redis: true });
  const contract = await openApiContract(openApiDocument(running.app));
  client = createSkiffClient({ baseUrl: running.client.url, fetch: contract.fetch, headers: { 'x-api-key': TEST_API_KEY } });
});
after(() => running.stop());

test('create, read and list an item through the typed client', async () => {
  const created = await client.POST('/v1/items', { body: { name: 'Kettle', price: 30, tags: ['kitchen'] } });
  assert.equal(created.response.status, 201);
  const item: Item = created.data!;
  assert.equal(item.name, 'Kettle');

  const read = await client.GET('/v1/items/{id}', { params: { path: { id: item.id } } });
  assert.deepEqual(read.data, item);

  const page = await client.GET('/v1/items', { params: { query: { tag: 'kitchen', limit: 10 } } });
  const next: string | null = page.data!.next_cursor;
  assert.equal(next, null);
  assert.deepEqual(page.data!.items.map((i) => i.id), [item.id]);
});

test('a 422 arrives as a typed validation problem', async () => {
  const bad = await client.POST('/v1/items', { body: { name: '', price: -1 } });
  assert.equal(bad.response.status, 422);
  assert.equal(bad.data, undefined);
  assert.ok(isValidationProblem(bad.error));
  const errors: components['schemas']['FieldError'][] = bad.error.errors;
  assert.deepEqual(errors.map((e) => e.loc).sort(), [['body', 'name'], ['body', 'price']]);
  assert.equal(bad.error.code, 'VALIDATION_FAILED');
});

test('the types refuse calls the document does not allow', () => {
  // Compile-time checks: each line below is a type error, which the typecheck in `npm test` verifies.
  const typeErrors = () => {
    // @ts-expect-error price is required
    void client.POST('/v1/items', { body: { name: 'x' } });
    // @ts-expect-error the path parameter is required
    void client.GET('/v1/items/{id}', {});
    // @ts-expect-error no such route
    void client.GET('/v1/things');
  };
  assert.equal(typeof typeErrors, 'function');
});

test('clients/typescript/schema.d.ts is what `npm run client` generates from docs/openapi.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-client-'));
  try {
    const out = join(dir, 'schema.d.ts');
    const cli = new URL('../node_modules/openapi-typescript/bin/cli.js', import.meta.url).pathname;
    await promisify(execFile)(process.execPath, [cli, 'docs/openapi.json', '--output', out], { cwd: new URL('..', import.meta.url).pathname });
    assert.equal(readFileSync(new URL('../clients/typescript/schema.d.ts', import.meta.url), 'utf8'), readFileSync(out, 'utf8'), 'run `npm run openapi` (or `npm run client`)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
