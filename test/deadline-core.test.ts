// The request's one Redis deadline: the clock starts at the first call, every call is bounded by what is left,
// a spent deadline fails at once, and a route making several hung calls answers 503 within about one bound.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { Deadline, DeadlineExceededError } from '../src/deadline.ts';
import { createLogger } from '../src/log.ts';
import { createApp } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

// Long enough that a loaded 2-core machine's scheduling noise stays well under half of it.
const BOUND_MS = 500;
const hung = (): Promise<never> => new Promise(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the clock starts at the first call, not when the deadline is made', async () => {
  const deadline = new Deadline(BOUND_MS);
  await sleep(BOUND_MS + 50);
  assert.equal(deadline.spent, false);
  assert.equal(deadline.remainingMs(), BOUND_MS);
  assert.equal(await deadline.bound(Promise.resolve('ok')), 'ok');
  assert.ok(deadline.expiresAt <= Date.now() + BOUND_MS && deadline.expiresAt > Date.now(), 'expires one bound after the first call');
});

test('calls share one allowance; once spent, a call fails at once and its late failure is not unhandled', async () => {
  const deadline = new Deadline(BOUND_MS);
  const started = Date.now();
  await assert.rejects(deadline.bound(hung()), DeadlineExceededError);
  await assert.rejects(deadline.bound(hung()), DeadlineExceededError);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= BOUND_MS - 5 && elapsed < BOUND_MS * 3, `two hung calls took ${elapsed} ms, one bound in all`);
  assert.equal(deadline.spent, true);
  const late = Promise.reject(new Error('connection closed later'));
  const err = await deadline.bound(late).catch((e: unknown) => e);
  assert.ok(err instanceof DeadlineExceededError && err.applied === undefined, 'a sent call may have been applied');
  assert.equal(deadline.exceeded(false).applied, false);
});

test('grace extends one wait beyond the deadline without moving it', async () => {
  const deadline = new Deadline(100);
  const answer = sleep(130).then(() => 'late reply');
  assert.equal(await deadline.bound(answer, 100), 'late reply');
  assert.equal(deadline.spent, true);
});

let client: TestClient;
const seen = { deadlines: 0 };
before(async () => {
  const app = createApp({ log: createLogger('silent'), redisTimeoutMs: BOUND_MS });
  app.get('/two-hung-calls', { response: { 200: Type.Object({}) } }, async (ctx) => {
    await ctx.deadline.bound(hung()).catch(() => {});
    await ctx.deadline.bound(hung());
    return {};
  });
  app.get('/same-deadline', { response: { 200: Type.Object({ same: Type.Boolean() }) } }, (ctx) => {
    seen.deadlines++;
    return { same: ctx.deadline === ctx.deadline && ctx.deadline.budgetMs === BOUND_MS };
  });
  client = await testClient(app);
});
after(() => client.close());

test('a request making two hung Redis calls answers 503 within about one bound, not two', async () => {
  await client.get('/same-deadline'); // the connection is open and the app warm: time the deadline, not set-up
  const started = Date.now();
  const res = await client.get('/two-hung-calls');
  const elapsed = Date.now() - started;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.ok(elapsed < BOUND_MS * 1.5, `answered in ${elapsed} ms (bound ${BOUND_MS} ms)`);
});

test('ctx.deadline is one object per request, sized by the app option', async () => {
  assert.equal((await client.get('/same-deadline')).json().same, true);
  assert.ok(seen.deadlines >= 1);
});
