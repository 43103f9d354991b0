// The request's one Redis deadline: the clock starts at the first call, every call is bounded by what is left,
// a spent deadline fails at once, and a route making several hung calls answers 503 within about one bound.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { Deadline, DeadlineExceededError } from '../src/deadline.ts';
import { createLogger } from '../src/log.ts';
import { redisErrorAnswer } from '../src/redis/index.ts';
import { createApp } from '../src/router/index.ts';
import { testClient, type TestClient } from '../src/testing/index.ts';

const BOUND_MS = 500;
// Two bounds one after the other can never take less than 2 × BOUND_MS (timers do not fire early), so "less than
// that" tells one shared deadline from two, while leaving a loaded machine a whole bound of scheduling noise.
const TWO_BOUNDS_MS = 2 * BOUND_MS;
const hung = (): Promise<never> => new Promise(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the clock runs only while the request waits on Redis, from its first call on', async () => {
  const deadline = new Deadline(BOUND_MS);
  await sleep(100);
  assert.equal(deadline.remainingMs(), BOUND_MS, 'untouched before the first call');
  assert.equal(await deadline.bound(sleep(100).then(() => 'ok')), 'ok');
  const afterCall = deadline.remainingMs();
  assert.ok(afterCall <= BOUND_MS - 90 && afterCall > 0, `the 100 ms wait was counted (${afterCall} ms left)`);
  await sleep(150);
  assert.equal(deadline.remainingMs(), afterCall, 'time between calls (handler work) is not counted');
  const expires = deadline.expiresAt - Date.now();
  assert.ok(expires <= afterCall && expires >= afterCall - 20, 'a call sent now carries what is left as its absolute deadline');
});

test('calls share one allowance; once spent, a call fails at once and its late failure is not unhandled', async () => {
  const deadline = new Deadline(BOUND_MS);
  const started = Date.now();
  await assert.rejects(deadline.bound(hung()), DeadlineExceededError);
  await assert.rejects(deadline.bound(hung()), DeadlineExceededError);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= BOUND_MS - 5 && elapsed < TWO_BOUNDS_MS, `two hung calls took ${elapsed} ms, one bound in all`);
  assert.equal(deadline.spent, true);
  const late = Promise.reject(new Error('connection closed later'));
  const err = await deadline.bound(late).catch((e: unknown) => e);
  assert.ok(err instanceof DeadlineExceededError && err.applied === undefined, 'a sent call may have been applied');
  assert.equal(deadline.exceeded(false).applied, false);
});

test('concurrent calls spend the allowance once, not once each', async () => {
  const deadline = new Deadline(BOUND_MS);
  const started = Date.now();
  const quick = deadline.bound(sleep(50).then(() => 'quick'));
  const slow = deadline.bound(hung());
  assert.equal(await quick, 'quick');
  await assert.rejects(slow, DeadlineExceededError);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= BOUND_MS - 5 && elapsed < TWO_BOUNDS_MS, `the hung call waited ${elapsed} ms`);
});

test('grace extends one wait beyond the deadline', async () => {
  const deadline = new Deadline(100);
  const answer = sleep(130).then(() => 'late reply');
  assert.equal(await deadline.bound(answer, 100), 'late reply');
  assert.equal(deadline.spent, true);
});

let client: TestClient;
const seen = { deadlines: 0 };
before(async () => {
  const app = createApp({ log: createLogger('silent'), redisTimeoutMs: BOUND_MS, onError: redisErrorAnswer });
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
  assert.ok(elapsed < TWO_BOUNDS_MS, `answered in ${elapsed} ms (bound ${BOUND_MS} ms)`);
});

test('ctx.deadline is one object per request, sized by the app option', async () => {
  assert.equal((await client.get('/same-deadline')).json().same, true);
  assert.ok(seen.deadlines >= 1);
});
