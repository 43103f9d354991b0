// The docs pages in a real browser (Debian's Chromium, driven by playwright-core) with every request that
// would leave loopback blocked and recorded: Redoc shows every operation, Swagger UI's "Try it out" calls
// GET /healthz on the same origin, and nothing is fetched from anywhere else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { OpenApiDocument } from '../src/openapi/index.ts';
import { startExampleApp, type RunningExample } from './contract-app.ts';
import { launchChromium } from './support/browser.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

let running: RunningExample;
let document: OpenApiDocument;
let browser: Browser;
let context: BrowserContext;
const leftLoopback: string[] = [];
const cspViolations: string[] = [];
const pageErrors: string[] = [];

before(async () => {
  running = await startExampleApp();
  document = (await running.client.get('/openapi.json')).json();
  browser = await launchChromium();
  context = await browser.newContext();
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.has(url.hostname)) return route.continue();
    leftLoopback.push(url.href);
    return route.abort('blockedbyclient');
  });
});

after(async () => {
  await browser?.close();
  await running.stop();
});

async function open(path: string): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${path}: ${message.text()}`);
  });
  page.on('pageerror', (err) => pageErrors.push(`${path}: ${err.message}`));
  const response = await page.goto(running.client.url + path);
  assert.equal(response?.status(), 200);
  return page;
}

const operations = () => Object.values(document.paths).flatMap((item) => Object.values(item));

test('Redoc renders every operation summary, and its search (a blob: worker) answers', async () => {
  const page = await open('/redoc');
  assert.ok(operations().length >= 7);
  for (const operation of operations()) {
    assert.ok(operation.summary, `${operation.operationId} has a summary`);
    // Redoc's heading ends with its anchor link, hence the trailing space.
    const summary = new RegExp(`^${String(operation.summary).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    await page.locator('h2', { hasText: summary }).first().waitFor({ timeout: 20_000 });
  }
  await page.getByPlaceholder('Search...').fill('Create an item');
  await page.locator('[data-role="search:results"]').getByText('Create an item').first().waitFor({ timeout: 10_000 });
  await page.close();
});

test('Swagger UI runs "Try it out" on GET /healthz against the same origin and shows 200', async () => {
  const page = await open('/docs');
  const operation = page.locator('#operations-health-getLiveness');
  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  const [call] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/healthz'),
    operation.getByRole('button', { name: 'Execute' }).click(),
  ]);
  assert.equal(call.status(), 200);
  assert.equal(new URL(call.url()).origin, running.client.url);
  await operation.locator('.live-responses-table .response-col_status').getByText('200').first().waitFor({ timeout: 10_000 });
  await page.close();
});

test('no request left loopback, no CSP violation, no page error', () => {
  assert.deepEqual(leftLoopback, []);
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(pageErrors, []);
});
