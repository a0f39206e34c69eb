/**
 * Counters and gauges for GET /metrics in the Prometheus text format. Counters are plain
 * numbers incremented on the hot path; gauges are read when scraped.
 */
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  counter(name: string, help: string): (by?: number, label?: string) => void {
    let entry = this.counters.get(name);
    if (!entry) {
      entry = { help, values: new Map() };
      this.counters.set(name, entry);
    }
    const values = entry.values;
    return (by = 1, label = '') => values.set(label, (values.get(label) ?? 0) + by);
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, { help, values }] of this.counters) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      if (values.size === 0) lines.push(`${name} 0`);
      for (const [label, value] of values) lines.push(label ? `${name}{${label}} ${value}` : `${name} ${value}`);
    }
    for (const [name, { help, read }] of this.gauges) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
