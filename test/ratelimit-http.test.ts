// Rate-limited routes over a real socket on a real Redis: the RateLimit header fields (checked with a
// structured-field parser), 429 problem+json, several policies, cost, partitions by principal and by IP
// (TRUSTED_PROXIES on and off), the limiter before the cache, and the OpenAPI entries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { buildDocument } from '../src/openapi/index.ts';
import { QUOTA_EXCEEDED_TYPE, createRateLimiter, redisRateLimitStore } from '../src/ratelimit/index.ts';
import { closeRedis, type Redis } from '../src/redis/index.ts';
import { testClient, type TestClient, type TestResponse } from '../src/testing/index.ts';
import { rateLimitTestApp, type RateLimitTestApp } from './support/ratelimit-app.ts';
import { connectedClient, startTestRedis, type TestRedis } from './support/redis.ts';
import { parseList, type Item } from './support/structured-fields.ts';

let server: TestRedis;
let redis: Redis;
let t: RateLimitTestApp;
let client: TestClient;
const log = createLogger('silent');

before(async () => {
  server = await startTestRedis();
  redis = await connectedClient(server);
  t = rateLimitTestApp(createRateLimiter({ store: redisRateLimitStore(redis, 'http:'), log, timeoutMs: 1000 }));
  client = await testClient(t.app);
});
after(async () => {
  await client.close();
  await closeRedis(redis);
  await server.stop();
});

// Only ever the redis-server this file started: the harness flushes its own server.
const flush = () => server.flush();

/** The RateLimit field as { policy: { r, t } }, every member a quoted policy name with integer r and t. */
function rateField(res: TestResponse): Record<string, { r: number; t: number }> {
  const members = parseList(res.headers.get('ratelimit') ?? assert.fail('no RateLimit field'));
  return Object.fromEntries(members.map((m: Item) => {
    assert.equal(typeof m.value, 'string', 'the policy is named by a String');
    const r = m.params.get('r');
    const tt = m.params.get('t');
    assert.ok(Number.isInteger(r) && (r as number) >= 0, `r=${String(r)}`);
    assert.ok(Number.isInteger(tt) && (tt as number) >= 0, `t=${String(tt)}`);
    return [m.value as string, { r: r as number, t: tt as number }];
  }));
}

function policyField(res: TestResponse): Record<string, { q: number; w: number }> {
  const members = parseList(res.headers.get('ratelimit-policy') ?? assert.fail('no RateLimit-Policy field'));
  return Object.fromEntries(members.map((m) => [m.value as string, { q: m.params.get('q') as number, w: m.params.get('w') as number }]));
}

test('a limited route sends RateLimit-Policy and RateLimit as structured fields, then 429 problem+json once the burst is spent', async () => {
  await flush();
  const remaining: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await client.get('/limited');
    assert.equal(res.status, 200);
    assert.deepEqual(policyField(res), { hourly: { q: 3, w: 10_800 } });
    const field = rateField(res);
    remaining.push(field.hourly.r);
    assert.ok(field.hourly.t > 3600 * (i + 1) - 60 && field.hourly.t <= 3600 * (i + 1), `t=${field.hourly.t} after ${i + 1} units`);
  }
  assert.deepEqual(remaining, [2, 1, 0]);
  const refused = await client.get('/limited');
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('content-type'), 'application/problem+json');
  const body = refused.json();
  assert.deepEqual([body.type, body.status, body.code, body['violated-policies']], [QUOTA_EXCEEDED_TYPE, 429, 'RATE_LIMITED', ['hourly']]);
  assert.match(refused.headers.get('retry-after')!, /^\d+$/);
  const retryAfter = Number(refused.headers.get('retry-after'));
  assert.ok(retryAfter > 3600 - 60 && retryAfter <= 3600, `Retry-After ${retryAfter} is one unit's interval`);
  assert.equal(rateField(refused).hourly.r, 0);
  assert.deepEqual(policyField(refused), { hourly: { q: 3, w: 10_800 } });
  assert.equal(t.calls.limited, 3, 'the refused request never reached the handler');
});

test('several policies are checked in one call; the refusal names the violated one and spends from none', async () => {
  await flush();
  const first = await client.get('/two');
  assert.deepEqual(Object.keys(rateField(first)), ['short', 'long']);
  assert.deepEqual(policyField(first), { short: { q: 2, w: 7200 }, long: { q: 5, w: 86_400 } });
  await client.get('/two');
  for (let i = 0; i < 3; i++) {
    const refused = await client.get('/two');
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.json()['violated-policies'], ['short']);
    assert.deepEqual([rateField(refused).short.r, rateField(refused).long.r], [0, 3], 'refusals spent nothing from `long`');
  }
});

test('cost: a request spends what its cost function says; more than the burst is refused without Retry-After', async () => {
  await flush();
  assert.equal(rateField(await client.post('/costly?units=2')).costly.r, 3);
  assert.equal(rateField(await client.post('/costly?units=0')).costly.r, 3, 'cost 0 only looks');
  const over = await client.post('/costly?units=4');
  assert.equal(over.status, 429);
  assert.ok(over.headers.get('retry-after') !== null);
  const never = await client.post('/costly?units=6');
  assert.equal(never.status, 429);
  assert.equal(never.headers.get('retry-after'), null, 'no wait makes 6 units fit a burst of 5');
  assert.match(never.json().detail, /more than the policy costly ever allows/);
  assert.equal(rateField(await client.post('/costly?units=3')).costly.r, 0);
});

test('key principal: each caller has its own budget; an anonymous caller spends its IP\'s', async () => {
  await flush();
  for (const who of ['ann', 'ann']) assert.equal((await client.get('/mine', { headers: { 'x-user': who } })).status, 200);
  assert.equal((await client.get('/mine', { headers: { 'x-user': 'ann' } })).status, 429);
  assert.equal((await client.get('/mine', { headers: { 'x-user': 'bob' } })).status, 200);
  const before = t.decisions.length;
  assert.equal((await client.get('/anonymous')).status, 200);
  assert.deepEqual(t.decisions.slice(before).map((d) => d.partition), ['ip:127.0.0.1']);
});

test('the limiter runs before the cache: a hit carries the headers and spends; a refusal never reaches the cache', async () => {
  await flush();
  const miss = await client.get('/cached');
  const hit = await client.get('/cached');
  assert.deepEqual([miss.headers.get('x-cache'), hit.headers.get('x-cache')], ['MISS', 'HIT']);
  assert.deepEqual([rateField(miss).cached.r, rateField(hit).cached.r], [2, 1]);
  await client.get('/cached');
  const refused = await client.get('/cached');
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('x-cache'), null);
  assert.equal(t.calls.cached, 1);
});

test('without TRUSTED_PROXIES a spoofed X-Forwarded-For or Forwarded does not change the partition', async () => {
  await flush();
  const before = t.decisions.length;
  const spoofs: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=198.51.100.1' }, { 'x-forwarded-for': '203.0.113.8, 127.0.0.1' }];
  for (const headers of spoofs) {
    assert.equal((await client.get('/open', { headers })).status, 200);
  }
  assert.deepEqual(t.decisions.slice(before).map((d) => d.partition), ['ip:127.0.0.1', 'ip:127.0.0.1', 'ip:127.0.0.1']);
});

test('TRUSTED_PROXIES: hops are read from the right past trusted proxies only; an untrusted peer\'s headers are ignored', async () => {
  const partitions = async (trusted: string[], headers: Record<string, string>[]): Promise<string[]> => {
    const app = rateLimitTestApp(createRateLimiter({ store: redisRateLimitStore(redis, 'proxies:'), log, timeoutMs: 1000, trustedProxies: trusted }));
    const c = await testClient(app.app);
    try {
      for (const h of headers) assert.equal((await c.get('/open', { headers: h })).status, 200);
    } finally {
      await c.close();
    }
    return app.decisions.map((d) => d.partition);
  };
  assert.deepEqual(await partitions(['127.0.0.0/8', '10.0.0.0/8'], [
    { 'x-forwarded-for': '203.0.113.7' },
    // The client wrote the first entry itself; the proxy at 10.1.2.3 appended what it saw.
    { 'x-forwarded-for': '6.6.6.6, 198.51.100.9, 10.1.2.3' },
    { forwarded: 'for="[2001:db8::17]:4711";proto=https, for=10.0.0.5' },
    { forwarded: 'for=unknown' },
    {},
  ]), ['ip:203.0.113.7', 'ip:198.51.100.9', 'ip:2001:db8::17', 'ip:127.0.0.1', 'ip:127.0.0.1']);
  // The peer (127.0.0.1) is not a trusted proxy: whatever it says about the client is its own word.
  assert.deepEqual(await partitions(['10.0.0.0/8'], [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=198.51.100.1' }]), ['ip:127.0.0.1', 'ip:127.0.0.1']);
  assert.throws(() => createRateLimiter({ store: redisRateLimitStore(redis, 'x:'), log, timeoutMs: 1000, trustedProxies: ['10.0.0.0/33'] }), /not an IP address or CIDR/);
});

test('OpenAPI: a limited operation documents its 429 and the RateLimit header fields on its 2xx answers', () => {
  const doc = buildDocument(t.app.routes(), { title: 't', version: '1' }) as unknown as { paths: Record<string, Record<string, { responses: Record<string, any> }>> };
  const op = doc.paths['/two'].get;
  assert.deepEqual(Object.keys(op.responses['200'].headers).sort(), ['RateLimit', 'RateLimit-Policy']);
  assert.match(op.responses['200'].headers['RateLimit-Policy'].description, /`short`: 2 per 7200 s, burst 2; `long`: 5 per 86400 s, burst 5/);
  assert.deepEqual(Object.keys(op.responses['429'].headers).sort(), ['RateLimit', 'RateLimit-Policy', 'Retry-After']);
  assert.deepEqual(op.responses['429'].content['application/problem+json'].schema, { $ref: '#/components/schemas/Problem' });
  assert.equal(doc.paths['/limited'].get.responses['429'].headers['Retry-After'].schema.type, 'string');
});

test('one policy name is one budget: declaring it again with another quota throws at declaration', () => {
  const limiter = createRateLimiter({ store: redisRateLimitStore(redis, 'x:'), log, timeoutMs: 1000 });
  limiter.route({ policies: [{ name: 'p', quota: 1, windowS: 1 }], key: 'ip' });
  limiter.route({ policies: [{ name: 'p', quota: 1, windowS: 1 }], key: 'principal' });
  assert.throws(() => limiter.route({ policies: [{ name: 'p', quota: 2, windowS: 1 }], key: 'ip' }), /declared twice/);
  assert.throws(() => limiter.route({ policies: [{ name: 'bad name', quota: 2, windowS: 1 }], key: 'ip' }), /must match/);
  assert.throws(() => limiter.route({ policies: [{ name: 'fine', quota: 2_000_001, windowS: 2 }], key: 'ip' }), /one unit per microsecond/);
});

test('configuration: TRUSTED_PROXIES takes addresses and CIDRs; anything else stops the start-up naming it', () => {
  assert.deepEqual(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1,192.0.2.7' }).trustedProxies, ['10.0.0.0/8', '::1', '192.0.2.7']);
  assert.deepEqual(loadConfig({}).trustedProxies, []);
  assert.throws(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,proxy.internal' }), (err: unknown) =>
    err instanceof ConfigError && err.code === 'SKIFF_CONFIG_INVALID' && /^TRUSTED_PROXIES: "proxy.internal" is not an IP address or CIDR/.test(err.detail));
});

test('switched off (RATE_LIMIT_ENABLED=false): no limit, no fields, and no 429 in the document', async () => {
  const off = rateLimitTestApp(createRateLimiter({ store: redisRateLimitStore(redis, 'off:'), log, timeoutMs: 1000, enabled: false }));
  const c = await testClient(off.app);
  try {
    for (let i = 0; i < 5; i++) {
      const res = await c.get('/limited');
      assert.deepEqual([res.status, res.headers.get('ratelimit'), res.headers.get('ratelimit-policy')], [200, null, null]);
    }
  } finally {
    await c.close();
  }
  const doc = buildDocument(off.app.routes(), { title: 't', version: '1' }) as unknown as { paths: Record<string, Record<string, { responses: Record<string, any> }>> };
  assert.equal(doc.paths['/limited'].get.responses['429'], undefined);
  assert.equal(off.decisions.length, 0);
});
