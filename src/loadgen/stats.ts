/**
 * Pure statistics for the benchmark: percentiles of latency samples, and min/median/max
 * across runs. No I/O, no clocks.
 */

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${what}: value ${i} is not a finite number (${String(values[i])})`);
  }
}

/** An ascending copy, as a Float64Array (numeric sort, no string comparison). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  checkFinite(values, 'sortedCopy');
  const sorted = Float64Array.from(values);
  sorted.sort();
  return sorted;
}

/**
 * The p-th percentile of ascending `sorted` values by the nearest-rank method: the smallest
 * value such that at least p% of the values are ≤ it (p99 of 1000 samples is the 990th).
 * It is always one of the samples, never an interpolation. p=0 gives the minimum.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentile: no values');
  // p = 99.9 is not exact in binary: 99.9% of 1000 must be rank 999, not 1000.
  const exact = (p / 100) * n;
  const rank = Math.ceil(exact - 1e-9 * Math.max(1, exact));
  return sorted[Math.min(n, Math.max(1, rank)) - 1]!;
}

/** The p-th percentile (nearest rank) of `values`, in any order. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileOfSorted(sortedCopy(values), p);
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('median: no values');
  const sorted = sortedCopy(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** min/median/max of the runs' values (the benchmark reports every metric this way). */
export function spread(values: ArrayLike<number>): Spread {
  if (values.length === 0) throw new RangeError('spread: no values');
  const sorted = sortedCopy(values);
  return { min: sorted[0]!, median: median(sorted), max: sorted[sorted.length - 1]! };
}

/** Count, mean, p50/p90/p99/p99.9 and max of latency samples. */
export function summarizeLatencies(values: ArrayLike<number>): LatencySummary {
  if (values.length === 0) throw new RangeError('summarizeLatencies: no samples');
  const sorted = sortedCopy(values);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    p999: percentileOfSorted(sorted, 99.9),
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * A growable buffer of samples (latencies in ms): no object or boxed number per sample, so
 * recording 20,000 samples a run costs the load generator nothing measurable.
 */
export class SampleBuffer {
  private data: Float64Array;
  private size = 0;

  constructor(initialCapacity = 4096) {
    this.data = new Float64Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  /** The recorded samples (a view: valid until the next push). */
  values(): Float64Array {
    return this.data.subarray(0, this.size);
  }
}
