// The operator dashboard (/admin) in a real browser (Debian's Chromium, driven by playwright-core) against the
// operator API on the real Redis, with queue workers running in this process. Every request that would leave the
// page's origin is blocked and recorded. The key is entered once; a dead job is retried by clicking and seen
// complete; a queue paused by clicking keeps new jobs queued until resumed; bulk actions ask first; a job's
// priority, group and dedupe key show in its row and detail. The page's
// screenshot is checked here and, with UPDATE_SCREENSHOTS=1, written to docs/admin-dashboard.png for the README.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createLogger } from '../src/log.ts';
import { closeRedis, createRedis, redisErrorAnswer, type Redis } from '../src/redis/index.ts';
import { createApp } from '../src/router/index.ts';
import {
  createAdminRouter, createDashboardRouter, createQueue, DASHBOARD_CSP, defineJob, startWorker, type JobHandle, type Queue, type Worker,
} from '../src/queue/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';
import { startExampleApp } from './contract-app.ts';
import { launchChromium } from './support/browser.ts';
import { until } from './support/queue.ts';
import { rawGet } from './support/raw-get.ts';
import { startTestRedis, type TestRedis } from './support/redis.ts';

const ADMIN_KEY = 'dashboard-operator-key';
const TITLE = 'skiff — queues';
const log = createLogger('silent');

// Fails while the gate is shut: with one try allowed, a job run then is dead; retried once it opens, it completes.
const gate = { open: false };
const gated = defineJob({
  name: 'billing.charge',
  payload: Type.Object({ invoice: Type.String() }),
  maxTries: 1,
  handler: async ({ invoice }, ctx) => {
    ctx.log.info('charging', { invoice });
    if (!gate.open) throw new Error('payment provider unreachable');
    ctx.log.info('charged', { invoice });
    return { invoice, charged: true };
  },
});
const send = defineJob({
  name: 'mail.send',
  payload: Type.Object({ to: Type.String() }),
  handler: async ({ to }) => ({ to, sent: true }),
});
/** A tenant's digest: two of a tenant at once, throttled per recipient. */
const digest = defineJob({
  name: 'mail.digest',
  payload: Type.Object({ tenant: Type.String(), to: Type.String() }),
  group: (p) => p.tenant,
  groupConcurrency: 2,
  dedupe: { key: (p) => p.to, mode: 'throttle' },
  handler: async ({ to }) => ({ to, sent: true }),
});
const JOBS = [gated, send, digest];

let server: TestRedis;
let redis: Redis;
let billing: Queue;
let mail: Queue;
let api: TestClient;
const workers: Worker[] = [];
let browser: Browser;
let context: BrowserContext;
let page: Page;
const leftOrigin: string[] = [];
const consoleErrors: string[] = [];
const pageErrors: string[] = [];

before(async () => {
  server = await startTestRedis();
  redis = createRedis({ url: server.url, commandTimeoutMs: 1000, log });
  await until(() => redis.isReady);
  billing = createQueue({ redis, prefix: 'dash:', name: 'billing', jobs: JOBS });
  mail = createQueue({ redis, prefix: 'dash:', name: 'mail', jobs: JOBS });
  const app = createApp({ log, bodyLimitBytes: 1 << 20, responseValidation: true, onError: redisErrorAnswer });
  app.include(createAdminRouter([billing, mail], { adminKeys: [ADMIN_KEY] }), { prefix: '/v1' });
  app.include(createDashboardRouter());
  api = await testClient(app);
  for (const q of [billing, mail]) workers.push(startWorker({ queue: q, consumer: `dash-${q.name}`, log, leaseMs: 2000, blockMs: 100, promoteEveryMs: 20 }));
  await Promise.all(workers.map((w) => w.ready));

  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const origin = new URL(api.url).origin;
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin) return route.continue();
    leftOrigin.push(url.href);
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) consoleErrors.push(message.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
  await browser?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await api?.close();
  await closeRedis(redis);
  await server?.stop();
});

const settled = (q: Queue, id: string, status: string) => until(async () => (await q.getJob(id))?.status === status, 15_000, `job ${id} ${status}`);
/** The count button of a queue's status, by its accessible name (which carries the count). */
const count = (queue: string, status: string, n: number) => page.getByRole('button', { name: `Show ${status} jobs of ${queue} (${n})`, exact: true });
/** Resolves after the page's next two polls of the queue list answered, so what it shows is newer than now. */
const countsOf = async (queue: string): Promise<Record<string, number>> =>
  (await api.get(`/v1/admin/queues/${queue}`, { headers: { 'x-api-key': ADMIN_KEY } })).json().counts;
const twoPolls = async () => {
  for (let i = 0; i < 2; i++) await page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/admin/queues' && r.status() === 200, { timeout: 15_000 });
};

const get = (path: string, headers: Record<string, string> = {}) => rawGet(api.url + path, headers);

test('the page and its assets: strict CSP, only this server\'s files, strong ETag with 304, gzip', async () => {
  const html = await get('/admin');
  assert.equal(html.status, 200);
  assert.match(String(html.headers['content-type']), /^text\/html/);
  assert.equal(html.headers['content-security-policy'], DASHBOARD_CSP);
  assert.match(DASHBOARD_CSP, /script-src 'self';/);
  assert.doesNotMatch(DASHBOARD_CSP, /unsafe/);
  const text = html.body.toString();
  assert.doesNotMatch(text, /https?:\/\//, 'no absolute URL');
  assert.doesNotMatch(text, /<script>|<style>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');
  assert.match(text, /data-api="\/v1\/admin\/queues"/);
  for (const [, src] of text.matchAll(/(?:src|href)="([^"]+)"/g)) {
    if (src === 'data:,') continue;
    const asset = await get(src);
    assert.equal(asset.status, 200, src);
    const etag = String(asset.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal((await get(src, { 'if-none-match': etag })).status, 304, src);
    assert.equal((await get(src, { 'accept-encoding': 'gzip' })).headers['content-encoding'], 'gzip', src);
  }
});

test('the example app serves /admin only with an admin key configured, and never documents it', async () => {
  const off = await startExampleApp();
  const on = await startExampleApp({ env: { ADMIN_KEYS: 'k1' } });
  try {
    assert.equal((await off.client.get('/admin')).status, 404);
    const page = await on.client.get('/admin');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
    const document = (await on.client.get('/openapi.json')).json() as { paths: Record<string, unknown> };
    assert.deepEqual(Object.keys(document.paths).filter((p) => !p.startsWith('/v1/') && !p.endsWith('z')), []);
    assert.ok(Object.keys(document.paths).some((p) => p.startsWith('/v1/admin/queues')));
  } finally {
    await off.stop();
    await on.stop();
  }
});

test('the key is asked for once: entered, kept in sessionStorage, and the queues show', async () => {
  const response = await page.goto(`${api.url}/admin`);
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), TITLE);
  await page.getByLabel('Admin key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Use key' }).click();
  await page.getByRole('rowheader', { name: 'billing' }).waitFor();
  await page.getByRole('rowheader', { name: 'mail' }).waitFor();
  assert.equal(await page.evaluate('sessionStorage.getItem("skiff.adminKey")'), ADMIN_KEY);
  // A reload keeps the key: no form, the queues again.
  await page.reload();
  await page.getByRole('rowheader', { name: 'billing' }).waitFor();
  assert.equal(await page.locator('#login').isHidden(), true);
});

test('a dead job is opened from the dead list with the keyboard, retried by clicking, and seen complete', async () => {
  const job = await billing.enqueue(gated, { invoice: 'INV-1042' });
  await settled(billing, job.id, 'failed');
  await count('billing', 'dead', 1).click();
  const row = page.locator(`#jobs tr[data-job="${job.id}"]`);
  await row.waitFor();
  await row.focus();
  await page.keyboard.press('Enter');
  const status = page.locator('#detail dd[data-field="status"]');
  await until(async () => (await status.textContent()) === 'failed (dead letter)', 10_000, 'detail shows the dead job');
  assert.match(await page.locator('#detail-error').innerText(), /payment provider unreachable/);
  assert.match(await page.locator('#detail-payload').innerText(), /"invoice": "INV-1042"/);
  assert.equal(await page.locator('#detail-actions').getByRole('button', { name: 'Abort', exact: true }).isDisabled(), true);

  gate.open = true;
  await page.locator('#detail-actions').getByRole('button', { name: 'Retry' }).click();
  await until(async () => (await status.textContent()) === 'complete', 15_000, 'detail shows the job complete');
  assert.equal((await billing.getJob(job.id))?.status, 'complete');
  assert.match(await page.locator('#detail-result').innerText(), /"charged": true/);
  await page.locator('#detail-logs').getByRole('cell', { name: 'charged', exact: true }).waitFor();
  await count('billing', 'dead', 0).waitFor();
});

test('a queue paused by clicking keeps new jobs queued (the counts say so) until it is resumed', async () => {
  await page.getByRole('button', { name: 'Pause mail' }).click();
  await page.getByRole('button', { name: 'Resume mail' }).waitFor();
  assert.equal((await api.get('/v1/admin/queues/mail', { headers: { 'x-api-key': ADMIN_KEY } })).json().paused, true);
  const jobs: JobHandle[] = [];
  for (const to of ['ana@example.org', 'bo@example.org', 'cy@example.org']) jobs.push(await mail.enqueue(send, { to }));
  await count('mail', 'queued', 3).waitFor({ timeout: 10_000 });
  await twoPolls();
  await count('mail', 'queued', 3).waitFor({ timeout: 1000 });
  await count('mail', 'complete', 0).waitFor({ timeout: 1000 });
  for (const job of jobs) assert.equal((await mail.getJob(job.id))?.status, 'queued');

  await page.getByRole('button', { name: 'Resume mail' }).click();
  await count('mail', 'complete', 3).waitFor({ timeout: 15_000 });
  await count('mail', 'queued', 0).waitFor();
});

test('bulk actions ask first: cancelling "retry all" retries nothing, confirming retries every dead job', async () => {
  gate.open = false;
  const dead = await Promise.all(['INV-2001', 'INV-2002'].map((invoice) => billing.enqueue(gated, { invoice })));
  for (const job of dead) await settled(billing, job.id, 'failed');
  await count('billing', 'dead', 2).click();
  await page.getByRole('button', { name: 'Retry all dead' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Retry every dead job of billing/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await twoPolls();
  for (const job of dead) assert.equal((await billing.getJob(job.id))?.status, 'failed');
  await count('billing', 'dead', 2).waitFor({ timeout: 1000 });

  gate.open = true;
  await page.getByRole('button', { name: 'Retry all dead' }).click();
  await dialog.getByRole('button', { name: 'Retry all' }).click();
  for (const job of dead) await settled(billing, job.id, 'complete');
  await count('billing', 'dead', 0).waitFor({ timeout: 10_000 });
});

test('a job\'s priority, group and dedupe key show in its row and its detail', async () => {
  await page.getByRole('button', { name: 'Pause mail' }).click();
  await page.getByRole('button', { name: 'Resume mail' }).waitFor();
  const job = await mail.enqueue(digest, { tenant: 'acme', to: 'ops@example.org' }, { priority: 'high' });
  await count('mail', 'queued', 1).click();
  const row = page.locator(`#jobs tr[data-job="${job.id}"]`);
  await row.waitFor();
  // Id, name, status, then priority, group, dedupe key.
  assert.deepEqual((await row.locator('td').allInnerTexts()).slice(3, 6), ['high', 'acme', 'throttle: ops@example.org']);
  await row.click();
  const field = (name: string) => page.locator(`#detail dd[data-field="${name}"]`);
  await until(async () => (await field('status').textContent()) === 'queued', 10_000, 'detail shows the job');
  assert.deepEqual(await Promise.all(['priority', 'group', 'dedupe'].map((f) => field(f).textContent())),
    ['high', 'acme (at most 2 at once)', 'throttle: ops@example.org (resolves to this job)']);
  await page.getByRole('button', { name: 'Resume mail' }).click();
  await settled(mail, job.id, 'complete');
  await until(async () => (await field('dedupe').textContent()) === 'throttle: ops@example.org (resolves to it no more)', 10_000, 'the key let go');
  await page.locator('#detail-close').click();
});

test('screenshot: non-empty PNG of the page titled as it should be', async () => {
  // Something in every column: finished work for the sparklines, a failure kept, a job waiting on a paused queue.
  gate.open = false;
  const failed = await billing.enqueue(gated, { invoice: 'INV-3001' });
  const sent = await Promise.all(['dee@example.org', 'eve@example.org'].map((to) => mail.enqueue(send, { to })));
  await settled(billing, failed.id, 'failed');
  // Paused before its worker took them, the two would stay queued beside the third: wait until they are complete.
  for (const job of sent) await settled(mail, job.id, 'complete');
  await page.getByRole('button', { name: 'Pause mail' }).click();
  // The page shows Resume once the operator API says paused: only then would the worker leave a new job queued.
  await page.getByRole('button', { name: 'Resume mail' }).waitFor();
  await mail.enqueue(send, { to: 'fay@example.org' });
  await count('mail', 'queued', 1).waitFor({ timeout: 10_000 });
  await count('billing', 'failed', (await countsOf('billing')).failed).click();
  const row = page.locator(`#jobs tr[data-job="${failed.id}"]`);
  await row.click();
  await page.locator('#detail dd[data-field="status"]').getByText('failed (dead letter)').waitFor();
  await page.locator('#detail-title').blur();

  assert.equal(await page.title(), TITLE);
  const png = await page.screenshot({ fullPage: true });
  assert.ok(png.length > 10_000, `a real picture (${png.length} bytes)`);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  // The committed picture is refreshed on request only: every run draws other times, and a test run should not
  // leave the checkout changed.
  const target = process.env.UPDATE_SCREENSHOTS === '1' ? new URL('../docs/admin-dashboard.png', import.meta.url) : join(tmpdir(), 'admin-dashboard.png');
  writeFileSync(target, png);
});

test('no request left the origin, no console error, no page error', () => {
  assert.deepEqual(leftOrigin, []);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(pageErrors, []);
});
