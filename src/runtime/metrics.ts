/**
 * The metrics registry of one process, for GET /metrics in the Prometheus text format
 * (DESIGN §8). A thin wrapper over prom-client, the ecosystem's standard: one Registry per
 * process (tests start several in one), prom-client's process metrics on every role, and
 * three ways to feed a family:
 *
 * - `counter`/`histogram`: prom-client's own, updated where the event happens; for events
 *   that are not per message (a request, a commit group, a login).
 * - `counters`/`gauges` with a collect function: the numbers live elsewhere (plain fields
 *   incremented on the hot path, or state read from the engines) and are copied in at scrape
 *   time, so the message path never pays for label hashing.
 * - `gauge`: one number read at scrape time.
 *
 * Names are checked once, at registration: `mom_` first, counters end in `_total`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    return new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
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
        this.reset();
        try {
          for (const sample of collect()) this.set(sample.labels, sample.value);
        } catch (error) {
          leaveEmpty(this);
          onError(name, error);
        }
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
        this.reset();
        try {
          for (const sample of collect()) this.inc(sample.labels, sample.value);
        } catch (error) {
          leaveEmpty(this);
          onError(name, error);
        }
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

/** Prometheus' status class label value: 2xx, 4xx… */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}
