// The single-slot proof: every Lua script runs with keys that all hash to one Redis Cluster slot, and so do the
// keys it derives inside from a prefix its caller passes (Redis Cluster refuses a script touching a key of
// another slot). The keys are built through each subsystem's real key builders, as its callers pass them; the
// key count is the one in the script's file name. test/redis-cluster.test.ts runs the same scripts on a live
// cluster, where a mistake here would surface as CROSSSLOT.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { exportKeys, itemKeys } from '../src/app/keys.ts';
import { namespaceKeys } from '../src/cache/keys.ts';
import { idempotencyKeys } from '../src/idempotency/keys.ts';
import { INDEXED_STATUSES, PRIORITIES, queueKeys } from '../src/queue/keys.ts';
import { policyKey } from '../src/ratelimit/keys.ts';
import { hashedPart, keySlot } from './support/redis-slot.ts';

const prefix = 'skiff:';
const q = queueKeys(prefix, 'emails');
const ns = namespaceKeys(prefix, 'users');
const items = itemKeys(prefix);
const exports = exportKeys(prefix);
const record = idempotencyKeys(prefix).record('alice', 'POST /items', 'key-1');
// What queue scripts build from the queue's base or job prefix: job hashes, status indexes (lua/lib/indexes.lua),
// counters, the pause flag, worker details, group slots and parked jobs (lua/lib/groups.lua), the rate-limit log.
const queueDerived = [q.job('a1'), q.idempotency('alice', 'k1'), q.dedupe('alice', 'mail.digest', 'u1'), q.streams.high, q.streams.low, q.turn, ...INDEXED_STATUSES.map((s) => q.status(s)), q.minutes, q.paused, q.workerInfo,
  q.waiting, q.groupRunning('tenant-1'), ...PRIORITIES.map((p) => q.groupWaiting('{tenant}:2', p)), q.groupTurn('{tenant}:2'), q.rate];

interface ScriptCall {
  /** The keys its caller passes (src/<dir>/<caller>). */
  keys: string[];
  /** Keys the script builds itself from prefixes among its arguments (samples of each). */
  derived?: string[];
}

// One entry per script file; a new script without an entry fails the coverage test below.
const CALLS: Record<string, ScriptCall> = {
  'cache/claimFill-3.lua': { keys: [ns.entry('GET /users/1'), ns.lock('GET /users/1'), ns.epoch] },
  'cache/storeEntry-4.lua': { keys: [ns.entry('GET /users/1'), ns.lock('GET /users/1'), ns.epoch, ns.all, ns.tag('user:1'), ns.tag('team:2')] },
  'cache/releaseFill-1.lua': { keys: [ns.lock('GET /users/1')] },
  'cache/invalidate-2.lua': { keys: [ns.epoch, ns.tag('user:1'), ns.tag('team:2')] },
  'app/createItem-2.lua': { keys: [items.item('01J'), items.all], derived: [items.tag('blue'), items.tagPrefix] },
  'app/patchItem-1.lua': { keys: [items.item('01J')], derived: [items.tag('blue')] },
  'app/deleteItem-2.lua': { keys: [items.item('01J'), items.all], derived: [items.tag('blue')] },
  'app/listItems-1.lua': { keys: [items.tag('blue')], derived: [items.item('01J'), items.itemPrefix] },
  'app/storeExport-4.lua': { keys: [exports.part('j1', 2), exports.file('j1'), exports.held('alice'), exports.heldBytes('alice')] },
  'app/reserveExport-2.lua': { keys: [exports.held('alice'), exports.heldBytes('alice')] },
  'app/releaseExport-2.lua': { keys: [exports.held(''), exports.heldBytes('')] },
  'idempotency/claimKey-1.lua': { keys: [record] },
  'idempotency/storeResponse-1.lua': { keys: [record] },
  'idempotency/releaseClaim-1.lua': { keys: [record] },
  'queue/addJobs-2.lua': { keys: [q.stream, q.delayed], derived: queueDerived },
  'queue/startJobs-4.lua': { keys: [q.stream, q.dead, q.stats, q.listeners], derived: queueDerived },
  'queue/settleJobs-5.lua': { keys: [q.stream, q.delayed, q.dead, q.stats, q.listeners], derived: queueDerived },
  'queue/promoteDelayed-2.lua': { keys: [q.delayed, q.stream], derived: queueDerived },
  'queue/heartbeat-2.lua': { keys: [q.stream, q.workers], derived: queueDerived },
  'queue/reportProgress-1.lua': { keys: [q.job('a1')], derived: queueDerived },
  'queue/abortJob-3.lua': { keys: [q.stream, q.delayed, q.job('a1')], derived: queueDerived },
  'queue/replayDead-3.lua': { keys: [q.dead, q.stream, q.stats], derived: queueDerived },
  'queue/retireConsumers-2.lua': { keys: [q.stream, q.workers], derived: queueDerived },
  'queue/requeueStalled-1.lua': { keys: [q.stream], derived: queueDerived },
  'queue/retryJobs-2.lua': { keys: [q.stream, q.dead], derived: queueDerived },
  'queue/deleteJobs-2.lua': { keys: [q.stream, q.delayed], derived: queueDerived },
  'queue/promoteJob-2.lua': { keys: [q.delayed, q.stream], derived: queueDerived },
  'ratelimit/spend-n.lua': { keys: [policyKey(prefix, 'alice', 'burst'), policyKey(prefix, 'alice', 'daily')] },
  'queue/listJobs-1.lua': { keys: [q.status('complete')], derived: queueDerived },
  'queue/setIfAbsent-1.lua': { keys: [q.idempotency('alice', 'k1')], derived: [q.partitionCount] },
};

// Multi-key commands issued outside scripts (a MULTI is one slot too on a cluster).
const COMMANDS: Record<string, string[]> = {
  'app/export-store.ts MULTI APPEND + PEXPIRE': [exports.part('j1', 2), exports.part('j1', 2)],
};

const scriptFiles = readdirSync(new URL('../src/', import.meta.url), { withFileTypes: true })
  .filter((dir) => dir.isDirectory())
  .flatMap((dir) => {
    try {
      return readdirSync(new URL(`../src/${dir.name}/lua/`, import.meta.url)).filter((f) => f.endsWith('.lua')).map((f) => `${dir.name}/${f}`);
    } catch {
      return [];
    }
  });

test('the slot function agrees with Redis on known slots', () => {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  assert.equal(keySlot('123456789'), 12739);
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
  assert.equal(hashedPart('foo{}{bar}'), 'foo{}{bar}', 'an empty first tag hashes the whole key');
  assert.equal(hashedPart('foo{{bar}}zap'), '{bar');
});

test('every Lua script under src/*/lua has a declared call', () => {
  assert.ok(scriptFiles.length >= 20, `found ${scriptFiles.length} scripts`);
  assert.deepEqual(scriptFiles.filter((f) => !(f in CALLS)), [], 'scripts with no declared keys');
  assert.deepEqual(Object.keys(CALLS).filter((f) => !scriptFiles.includes(f)), [], 'declared scripts that no longer exist');
});

for (const [file, call] of Object.entries(CALLS)) {
  test(`${file}: its keys and the keys it derives share one slot`, () => {
    // `-n`: as many keys as the call has (one per policy); else a variadic tail (tags, indexes) repeats the last
    // declared key's kind: at least the named count.
    const named = /-(\d+|n)\.lua$/.exec(file)?.[1];
    const count = named === 'n' ? 1 : Number(named);
    assert.ok(call.keys.length >= count, `${file} takes ${count} keys, the sample passes ${call.keys.length}`);
    const all = [...call.keys, ...(call.derived ?? [])];
    const slots = new Set(all.map(keySlot));
    assert.equal(slots.size, 1, `${file}: ${all.map((k) => `${k} → ${keySlot(k)}`).join(', ')}`);
  });
}

for (const [command, keys] of Object.entries(COMMANDS)) {
  test(`${command}: one slot`, () => assert.equal(new Set(keys.map(keySlot)).size, 1));
}

test('different queues and cache namespaces spread over slots (the hash tag is the name, not the prefix)', () => {
  assert.notEqual(keySlot(queueKeys(prefix, 'emails').stream), keySlot(queueKeys(prefix, 'exports').stream));
  assert.notEqual(keySlot(namespaceKeys(prefix, 'users').epoch), keySlot(namespaceKeys(prefix, 'teams').epoch));
});
