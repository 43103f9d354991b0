// Counters, gauges and histograms kept per process, snapshotted as plain JSON (to travel over IPC), summed
// across processes, and rendered in the Prometheus text format (version 0.0.4).

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** '' for the metric itself; '_bucket', '_sum' or '_count' for histogram series. */
  suffix: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

/** Returns families measured on demand: a subsystem's counters, a queue's depth in Redis. */
export type Collector = () => MetricFamily[] | Promise<MetricFamily[]>;

export interface Counter {
  inc(labelValues: readonly string[], by?: number): void;
}

export interface Gauge {
  set(labelValues: readonly string[], value: number): void;
  add(labelValues: readonly string[], delta: number): void;
}

export interface Histogram {
  observe(labelValues: readonly string[], value: number): void;
}

interface Series {
  labels: Record<string, string>;
  value: number;
}

interface HistogramSeries {
  labels: Record<string, string>;
  /** Per-bucket (non-cumulative) counts; the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Registry {
  private readonly families: (() => MetricFamily)[] = [];
  private readonly collectors: Collector[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const series = this.seriesTable(name, 'counter', help);
    return { inc: (values, by = 1) => void (seriesFor(series, labelNames, values).value += by) };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const series = this.seriesTable(name, 'gauge', help);
    return {
      set: (values, value) => void (seriesFor(series, labelNames, values).value = value),
      add: (values, delta) => void (seriesFor(series, labelNames, values).value += delta),
    };
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_BUCKETS): Histogram {
    const table = new Map<string, HistogramSeries>();
    this.families.push(() => ({ name, type: 'histogram', help, samples: [...table.values()].flatMap((s) => histogramSamples(s, buckets)) }));
    return {
      observe(values, value) {
        const key = values.join('\u0000');
        let s = table.get(key);
        if (s === undefined) {
          s = { labels: labelsOf(labelNames, values), counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 };
          table.set(key, s);
        }
        let i = 0;
        while (i < buckets.length && value > buckets[i]) i++;
        s.counts[i]++;
        s.sum += value;
        s.count++;
      },
    };
  }

  /** Adds families computed at scrape time (the registration hook for cache and queue statistics). */
  collect(collector: Collector): void {
    this.collectors.push(collector);
  }

  async snapshot(): Promise<MetricFamily[]> {
    const collected = await Promise.all(this.collectors.map(async (c) => c()));
    return [...this.families.map((f) => f()), ...collected.flat()];
  }

  private seriesTable(name: string, type: MetricType, help: string): Map<string, Series> {
    const table = new Map<string, Series>();
    this.families.push(() => ({ name, type, help, samples: [...table.values()].map((s) => ({ suffix: '', labels: s.labels, value: s.value })) }));
    return table;
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]] = values[i] ?? '';
  return labels;
}

function seriesFor(table: Map<string, Series>, names: readonly string[], values: readonly string[]): Series {
  const key = values.join('\u0000');
  let s = table.get(key);
  if (s === undefined) {
    s = { labels: labelsOf(names, values), value: 0 };
    table.set(key, s);
  }
  return s;
}

function histogramSamples(s: HistogramSeries, buckets: readonly number[]): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i <= buckets.length; i++) {
    cumulative += s.counts[i];
    samples.push({ suffix: '_bucket', labels: { ...s.labels, le: i < buckets.length ? String(buckets[i]) : '+Inf' }, value: cumulative });
  }
  samples.push({ suffix: '_sum', labels: s.labels, value: s.sum }, { suffix: '_count', labels: s.labels, value: s.count });
  return samples;
}

/**
 * One view of several processes: samples with the same name and labels are summed. Per-process values (memory,
 * event-loop delay) carry a `pid` label, so they stay apart.
 */
export function mergeFamilies(snapshots: readonly MetricFamily[][]): MetricFamily[] {
  const merged = new Map<string, { family: MetricFamily; index: Map<string, Sample> }>();
  for (const snapshot of snapshots) {
    for (const family of snapshot) {
      let entry = merged.get(family.name);
      if (entry === undefined) {
        entry = { family: { name: family.name, type: family.type, help: family.help, samples: [] }, index: new Map() };
        merged.set(family.name, entry);
      }
      for (const sample of family.samples) {
        const key = sample.suffix + JSON.stringify(Object.entries(sample.labels).sort());
        const existing = entry.index.get(key);
        if (existing) existing.value += sample.value;
        else {
          const copy = { suffix: sample.suffix, labels: sample.labels, value: sample.value };
          entry.index.set(key, copy);
          entry.family.samples.push(copy);
        }
      }
    }
  }
  return [...merged.values()].map((e) => e.family);
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function renderPrometheus(families: readonly MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${f.name}${s.suffix}${renderLabels(s.labels)} ${renderValue(s.value)}\n`;
  }
  return out;
}

function renderLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
