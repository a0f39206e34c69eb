/**
 * Rates computed in the page from successive polls: the API answers levels (a queue's depth,
 * in-flight and dead-letter counts; the /metrics counters), and the change between two polls
 * divided by the time between them is the rate. Pure: times are passed in.
 */
interface Sample {
  value: number;
  at: number;
}

export class RateTracker {
  private readonly samples = new Map<string, Sample>();
  private readonly rates = new Map<string, number>();

  /**
   * Records `value` for `key` at `atMs` and answers the rate per second since the key's
   * previous sample (`undefined` for the first one). A level may go down (a purge); a counter
   * (`counter: true`) going down was reset (a restart) and has no rate for that interval.
   */
  sample(key: string, value: number, atMs: number, options: { counter?: boolean } = {}): number | undefined {
    const previous = this.samples.get(key);
    this.samples.set(key, { value, at: atMs });
    if (!previous || atMs <= previous.at || (options.counter === true && value < previous.value)) {
      this.rates.delete(key);
      return undefined;
    }
    const rate = ((value - previous.value) * 1000) / (atMs - previous.at);
    this.rates.set(key, rate);
    return rate;
  }

  /** The last rate computed for `key`, if any. */
  rate(key: string): number | undefined {
    return this.rates.get(key);
  }

  /** Forgets every key that starts with `prefix` (all of them without one). */
  forget(prefix = ''): void {
    for (const key of [...this.samples.keys()]) {
      if (key.startsWith(prefix)) {
        this.samples.delete(key);
        this.rates.delete(key);
      }
    }
  }
}
