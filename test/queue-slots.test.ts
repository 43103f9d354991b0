// The worker's slot bookkeeping on its own: what a blocking read and a refill may ask for, which attempts start
// at once and which wait, and the order waiting ones start in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerSlots } from '../src/queue/slots.ts';

test('attempts start while handler slots are free, then wait in arrival order', () => {
  const slots = new WorkerSlots<string>(2);
  assert.equal(slots.admit('a'), true);
  slots.started();
  assert.equal(slots.admit('b'), true);
  slots.started();
  assert.deepEqual([slots.admit('c'), slots.admit('d')], [false, false]);
  assert.deepEqual([slots.running, slots.owned], [2, 4]);
  assert.equal(slots.nextWaiting(), undefined, 'no free handler slot');
  slots.ended();
  assert.equal(slots.nextWaiting(), 'c');
  slots.started();
  assert.equal(slots.nextWaiting(), undefined);
  assert.deepEqual([slots.running, slots.owned], [2, 3]);
});

test('a free slot does not let a newcomer overtake an attempt already waiting', () => {
  const slots = new WorkerSlots<string>(1);
  assert.equal(slots.admit('a'), true);
  slots.started();
  assert.equal(slots.admit('b'), false);
  slots.ended();
  assert.equal(slots.admit('c'), false, 'b waits first');
  assert.equal(slots.nextWaiting(), 'b');
});

test('a blocking read asks for the free handler slots, and for none while another read is in flight', () => {
  const slots = new WorkerSlots<string>(5);
  assert.equal(slots.blockingReadSize(), 5);
  slots.admit('a');
  slots.started();
  assert.equal(slots.blockingReadSize(), 4);
  slots.reserve(2);
  assert.equal(slots.blockingReadSize(), 0);
  assert.equal(slots.unreserve(1), false, 'one reservation left');
  assert.equal(slots.unreserve(1), true);
  assert.equal(slots.blockingReadSize(), 4);
  for (const id of ['b', 'c', 'd', 'e', 'f', 'g']) if (slots.admit(id)) slots.started();
  assert.equal(slots.blockingReadSize(), 0, 'owned past maxJobs (prefetch) asks for nothing, not a negative count');
});

test('a refill keeps owned attempts and every read in flight within the capacity', () => {
  const slots = new WorkerSlots<string>(4);
  slots.admit('a');
  slots.started();
  slots.admit('b');
  slots.started();
  assert.equal(slots.refillSize(10), 8);
  slots.blockingRead(2);
  assert.equal(slots.refillSize(10), 6);
  slots.reserve(3);
  assert.equal(slots.refillSize(10), 3);
  slots.blockingRead(0);
  slots.unreserve(3);
  assert.equal(slots.refillSize(4), 2);
});

test('a stopping worker takes every waiting attempt out at once', () => {
  const slots = new WorkerSlots<string>(1);
  slots.admit('a');
  slots.started();
  slots.admit('b');
  slots.admit('c');
  assert.deepEqual(slots.takeWaiting(), ['b', 'c']);
  assert.deepEqual([slots.owned, slots.nextWaiting()], [1, undefined]);
});
