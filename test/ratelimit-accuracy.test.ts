// Accuracy of the limits across processes: two app processes sharing one Redis (and one process on the memory
// store) take 3× the quota for more than three windows. Counted on the limiter's own clock (each decision's
// time, Redis TIME or the process clock), never on the test's: the burst is honoured and no more; after it,
// every window allows the quota ± 1; every refusal is a 429 whose Retry-After is met by the next allowed request.
// A stall of the test's own sender (a loaded machine) moves allowances between windows without changing their
// sum; such a gap in the offered load is measured and only it widens the bound.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestRedis, type TestRedis } from './support/redis.ts';
import { parseList } from './support/structured-fields.ts';

const QUOTA = 4;
const WINDOW_MS = 2000;
const BURST = 4;
const INTERVAL_MS = WINDOW_MS / QUOTA;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = fileURLToPath(new URL('../', import.meta.url));
const children: ChildProcess[] = [];
let redis: TestRedis | undefined;

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
});

async function startChild(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/ratelimit-child.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ACC_QUOTA: String(QUOTA), ACC_WINDOW_S: String(WINDOW_MS / 1000), ACC_BURST: String(BURST), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  remaining: number | undefined;
  violated: string[] | undefined;
}

interface Decision {
  requestId: string;
  allowed: boolean;
  at: number;
}

async function measure(targets: string[]) {
  const answers = new Map<string, Promise<Answer>>();
  let n = 0;
  const send = () => {
    const id = `acc-${++n}`;
    const target = targets[n % targets.length];
    answers.set(id, fetch(`${target}/acc`, { headers: { 'x-request-id': id } }).then(async (res) => {
      const body = res.status === 429 ? ((await res.json()) as { 'violated-policies': string[] }) : (await res.arrayBuffer(), undefined);
      const field = parseList(res.headers.get('ratelimit') ?? '')[0];
      return { status: res.status, retryAfter: res.headers.get('retry-after'), remaining: field?.params.get('r') as number | undefined, violated: body?.['violated-policies'] };
    }));
  };
  // The burst: more than it allows, at once.
  for (let i = 0; i < BURST + 2; i++) send();
  // Then 3× the quota, one request every interval / 3, for four windows (the three measured, and a margin).
  const started = Date.now();
  while (Date.now() - started < 4 * WINDOW_MS) {
    await sleep(INTERVAL_MS / 3);
    send();
  }
  const byId = new Map<string, Answer>();
  for (const [id, answer] of answers) byId.set(id, await answer);
  const decisions: Decision[] = [];
  for (const target of targets) decisions.push(...((await (await fetch(`${target}/decisions`)).json()) as Decision[]));
  // Decision times are whole ms (Redis TIME, or the process clock), so decisions of two processes tie. Within one
  // ms an allowance never follows a refusal of the same burst (a refill takes an interval), so ties sort
  // allowances first; in arrival order a burst split over two processes could read as refused before allowed.
  decisions.sort((a, b) => a.at - b.at || Number(b.allowed) - Number(a.allowed));
  return { decisions, byId };
}

function check(decisions: Decision[], byId: Map<string, Answer>): string {
  assert.equal(decisions.length, byId.size, 'every request was decided by the store');
  const first = decisions[0].at;
  const firstDenied = decisions.findIndex((d) => !d.allowed);
  assert.ok(firstDenied > 0, 'the burst was refused past its size');
  const t0 = decisions[firstDenied].at;
  // Burst: at least its size at once, and no more than it plus what refilled meanwhile.
  const inBurst = decisions.slice(0, firstDenied).length;
  assert.ok(inBurst >= BURST, `burst honoured: ${inBurst} allowed at once`);
  assert.ok(inBurst <= BURST + Math.floor((t0 - first + 1) / INTERVAL_MS), `burst not exceeded: ${inBurst} allowed within ${t0 - first} ms`);
  assert.ok(decisions[decisions.length - 1].at >= t0 + 3 * WINDOW_MS, 'the offered load covered three windows after the burst');

  // Slots an offered-load gap (no decision for longer than an interval) could have moved across `boundary`.
  const moved = (boundary: number): number => {
    for (let i = 1; i < decisions.length; i++) {
      const [a, b] = [decisions[i - 1].at, decisions[i].at];
      if (a < boundary && b >= boundary) return Math.floor((b - a) / INTERVAL_MS);
    }
    return 0;
  };
  const perWindow: number[] = [];
  for (let k = 0; k < 3; k++) {
    const [from, to] = [t0 + k * WINDOW_MS, t0 + (k + 1) * WINDOW_MS];
    // From the first refusal on, not from its ms: the burst's allowances can share that ms.
    const inWindow = decisions.filter((d, i) => i >= firstDenied && d.at >= from && d.at < to);
    const allowed = inWindow.filter((d) => d.allowed).length;
    perWindow.push(allowed);
    const slack = 1 + moved(from) + moved(to);
    assert.ok(Math.abs(allowed - QUOTA) <= slack, `window ${k + 1}: ${allowed} allowed, quota ${QUOTA} ± ${slack}`);
    assert.ok(inWindow.length - allowed > 0, `window ${k + 1}: the excess was refused`);
  }

  // Every refusal: 429, the policy named, nothing left, and a Retry-After the next allowed request meets.
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i];
    const answer = byId.get(d.requestId)!;
    assert.equal(answer.status, d.allowed ? 200 : 429);
    if (d.allowed) continue;
    assert.deepEqual([answer.violated, answer.remaining], [['acc'], 0]);
    assert.match(answer.retryAfter ?? '', /^[1-9]\d*$/);
    const retryMs = Number(answer.retryAfter) * 1000;
    assert.ok(retryMs <= Math.ceil(INTERVAL_MS / 1000) * 1000, `Retry-After ${answer.retryAfter} s is at most one interval, rounded up`);
    const next = decisions.findIndex((e, j) => j > i && e.allowed);
    if (next === -1) continue;
    let widestGap = 0;
    for (let j = i + 1; j <= next; j++) widestGap = Math.max(widestGap, decisions[j].at - decisions[j - 1].at);
    assert.ok(decisions[next].at - d.at <= retryMs + widestGap, `refused at ${d.at}, next allowed ${decisions[next].at - d.at} ms later (Retry-After ${retryMs} ms)`);
  }
  return `burst ${inBurst}, allowed per window ${perWindow.join(' ')} (quota ${QUOTA}), ${decisions.length} decisions`;
}

test('two processes on one Redis: burst honoured, quota ± 1 per window at 3× the quota, correct Retry-After', async (t) => {
  redis = await startTestRedis();
  const targets = await Promise.all([startChild({ REDIS_URL: redis.url }), startChild({ REDIS_URL: redis.url })]);
  const { decisions, byId } = await measure(targets);
  t.diagnostic(check(decisions, byId));
});

test('one process on the memory store: the same', async (t) => {
  const { decisions, byId } = await measure([await startChild({})]);
  t.diagnostic(check(decisions, byId));
});
