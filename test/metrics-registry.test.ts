// The metrics registry on its own: series per label set, cumulative histogram buckets, sums across processes,
// and escaping in the text format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeFamilies, Registry, renderPrometheus } from '../src/metrics/index.ts';

test('counters and histograms from two processes are summed per label set', async () => {
  const snapshots = [];
  for (const durations of [[0.002, 0.2], [0.03]]) {
    const r = new Registry();
    const c = r.counter('req_total', 'Requests.', ['route']);
    const h = r.histogram('dur_seconds', 'Duration.', ['route'], [0.01, 0.1]);
    for (const d of durations) {
      c.inc(['/a']);
      h.observe(['/a'], d);
    }
    c.inc(['/b'], 2);
    snapshots.push(await r.snapshot());
  }
  const text = renderPrometheus(mergeFamilies(snapshots));
  assert.match(text, /^req_total\{route="\/a"\} 3$/m);
  assert.match(text, /^req_total\{route="\/b"\} 4$/m);
  assert.match(text, /^dur_seconds_bucket\{route="\/a",le="0.01"\} 1$/m);
  assert.match(text, /^dur_seconds_bucket\{route="\/a",le="0.1"\} 2$/m);
  assert.match(text, /^dur_seconds_bucket\{route="\/a",le="\+Inf"\} 3$/m);
  assert.match(text, /^dur_seconds_count\{route="\/a"\} 3$/m);
  assert.equal(text.match(/^# TYPE req_total counter$/gm)?.length, 1);
});

test('collectors add families at scrape time; label values are escaped', async () => {
  const r = new Registry();
  r.collect(() => [{ name: 'queue_depth', type: 'gauge', help: 'Jobs waiting.\nPer queue.', samples: [{ suffix: '', labels: { queue: 'a"b\\c\nd' }, value: 7 }] }]);
  const text = renderPrometheus(await r.snapshot());
  assert.match(text, /^# HELP queue_depth Jobs waiting.\\nPer queue.$/m);
  assert.ok(text.includes('queue_depth{queue="a\\"b\\\\c\\nd"} 7\n'));
});
