/**
 * The metrics registry of one process, for GET /metrics in the Prometheus text format
 * (DESIGN §8). A thin wrapper over prom-client, the ecosystem's standard: one Registry per
 * process (tests start several in one), prom-client's process metrics on every role, and
 * three ways to feed a family:
 *
 * - `counter`: prom-client's own, updated where the event happens; for events that are not
 *   per message (a login, a retry).
 * - `histogram`: observed on the hot path (every request, every commit group), so kept in
 *   plain arrays per label set (see Histogram below) and handed to prom-client at scrape time.
 * - `counters`/`gauges` with a collect function: the numbers live elsewhere (plain fields
 *   incremented on the hot path, or state read from the engines) and are copied in at scrape
 *   time, so the message path never pays for label hashing.
 * - `gauge`: one number read at scrape time.
 *
 * Names are checked once, at registration: `mom_` first, counters end in `_total`.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type LabelValues = Record<string, string | number>;

/** One series of a family read at scrape time. */
export interface Sample {
  labels: LabelValues;
  value: number;
}

export interface MetricsOptions {
  /** prom-client's default process and Node.js metrics (CPU, memory, event loop lag, GC…). Default true. */
  processMetrics?: boolean;
  /** Told when a collect function throws (the scrape goes on without that family). */
  onCollectError?: (name: string, error: unknown) => void;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly onCollectError: (name: string, error: unknown) => void;
  private readonly scrapeHooks: Array<() => void> = [];

  constructor(options: MetricsOptions = {}) {
    this.onCollectError = options.onCollectError ?? (() => {});
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A counter updated where its event happens. */
  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    checkName(name, 'counter');
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram observed where its event happens. `buckets`: upper bounds, in the metric's unit. */
  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    checkName(name, 'histogram');
    const histogram = new Histogram<L>(labelNames, buckets);
    // prom-client takes any object with a name and a get() answering what its own metrics
    // answer (the shape of registry.getMetricsAsJSON()); its Metric type names a class.
    const metric = { name, help, type: 'histogram', aggregator: 'sum', get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: histogram.values(name) }) };
    this.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    return histogram;
  }

  /** One gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges(name, help, [], () => [{ labels: {}, value: read() }]);
  }

  /** A family of gauges listed at scrape time (labels may differ between series, within `labelNames`). */
  gauges(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<Sample>): void {
    checkName(name, 'gauge');
    const onError = this.onCollectError;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        refill(this, (sample) => this.set(sample.labels, sample.value), collect, (error) => onError(name, error));
      },
    });
  }

  /** One counter whose value is kept elsewhere (a plain number that only grows), read at scrape time. */
  counterFrom(name: string, help: string, read: () => number): void {
    this.counters(name, help, [], () => [{ labels: {}, value: read() }]);
  }

  /** A family of counters kept elsewhere, listed at scrape time: each value only ever grows. */
  counters(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<Sample>): void {
    checkName(name, 'counter');
    const onError = this.onCollectError;
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        refill(this, (sample) => this.inc(sample.labels, sample.value), collect, (error) => onError(name, error));
      },
    });
  }

  /**
   * Called at the start of every scrape, before any family is collected: several families
   * read from one look at the node can take it here, once per scrape.
   */
  onScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  /** The whole registry in the Prometheus text format. */
  render(): Promise<string> {
    for (const hook of this.scrapeHooks) hook();
    return this.registry.metrics();
  }
}

/** One scrape's values of a family kept elsewhere: what `collect` lists, or none (and `onError`) when it throws. */
function refill(metric: { reset(): void }, put: (sample: Sample) => void, collect: () => Iterable<Sample>, onError: (error: unknown) => void): void {
  metric.reset();
  try {
    for (const sample of collect()) put(sample);
  } catch (error) {
    leaveEmpty(metric);
    onError(error);
  }
}

/**
 * A family that could not be read has no samples: a made-up 0 would read as "disk not
 * writable" or as a counter reset. prom-client's reset() of a family without labels leaves
 * one 0 sample, so the series table is emptied directly (covered by test/runtime/metrics.test.ts).
 */
function leaveEmpty(metric: object): void {
  (metric as { hashMap: Record<string, unknown> }).hashMap = {};
}

/** Our own families: `mom_…`, counters end in `_total` (prom-client's process metrics keep their standard names). */
function checkName(name: string, type: 'counter' | 'gauge' | 'histogram'): void {
  if (!name.startsWith('mom_')) throw new Error(`metric ${name}: our metric names start with mom_`);
  if ((type === 'counter') !== name.endsWith('_total')) {
    throw new Error(`metric ${name}: ${type === 'counter' ? 'a counter ends in _total' : `a ${type} does not end in _total`}`);
  }
}

/**
 * A histogram that costs the hot path a few comparisons and additions: each label set has its
 * own series (bucket counts in a typed array, sum, count), found once and kept by the caller,
 * and observing allocates nothing. prom-client's Histogram builds and hashes a label object
 * and a closure on every observe (about 0.6 µs each, measured); this one is read at scrape time.
 */
export class Histogram<L extends string = never> {
  private readonly bySeries = new Map<string, { labels: Record<string, string>; series: HistogramSeries }>();
  private unlabelled: HistogramSeries | undefined;

  constructor(
    private readonly labelNames: readonly L[],
    private readonly bounds: readonly number[],
  ) {
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new Error('histogram buckets must increase');
  }

  /** The series of one label set: look it up once, keep it, and observe into it. */
  series(labels: Record<L, string>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let found = this.bySeries.get(key);
    if (!found) {
      found = { labels: { ...labels }, series: new HistogramSeries(this.bounds) };
      this.bySeries.set(key, found);
    }
    return found.series;
  }

  /** Observes into the series without labels. */
  observe(value: number): void {
    (this.unlabelled ??= this.series({} as Record<L, string>)).observe(value);
  }

  /** Cumulative buckets, +Inf, _sum and _count of every series, as prom-client renders them. */
  values(name: string): Array<{ labels: Record<string, string | number>; value: number; metricName: string }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const { labels, series } of this.bySeries.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { ...labels, le: bound }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: series.count, metricName: `${name}_bucket` });
      values.push({ labels, value: series.sum, metricName: `${name}_sum` });
      values.push({ labels, value: series.count, metricName: `${name}_count` });
    }
    return values;
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative): counts[i] for bounds[i-1] < value <= bounds[i]. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!(value >= 0)) value = 0; // NaN or negative (a clock step): counted, as 0
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** Prometheus' status class label value: 2xx, 4xx… */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}
