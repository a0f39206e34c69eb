/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that
 * scrape GET /metrics: every sample must belong to a family declared by `# TYPE` (histogram
 * samples by their `_bucket`, `_sum` and `_count` suffixes), label values are unescaped, and
 * anything malformed throws naming the line. prom-client has no parser of its own.
 */
import { waitFor } from './wait';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (`x_bucket` for a histogram's bucket). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: PromSample[];
}

export type Scrape = Map<string, PromFamily>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Scrape {
  const families: Scrape = new Map();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return; // a plain comment
      const [, kind, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { name, type: 'untyped' as MetricType, help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        family.type = rest as MetricType;
      } else {
        family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (!family) throw new Error(`${where}: sample of no declared family`);
    family.samples.push(sample);
  });
  return families;
}

function familyOf(families: Scrape, sampleName: string): PromFamily | undefined {
  const exact = families.get(sampleName);
  if (exact && exact.type !== 'histogram' && exact.type !== 'summary') return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return exact;
}

function parseSample(line: string, where: string): PromSample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`${where}: no value`);
  const name = line.slice(0, nameEnd);
  if (!NAME.test(name)) throw new Error(`${where}: bad sample name`);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) throw new Error(`${where}: bad label`);
      const labelName = line.slice(i, eq);
      if (!LABEL_NAME.test(labelName)) throw new Error(`${where}: bad label name ${labelName}`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
      let value = '';
      let j = eq + 2;
      for (;;) {
        const c = line[j];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const next = line[j + 1];
          value += next === 'n' ? '\n' : next;
          j += 2;
        } else {
          value += c;
          j++;
        }
      }
      if (labelName in labels) throw new Error(`${where}: label ${labelName} twice`);
      labels[labelName] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`${where}: expected , or }`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
  const [valueText, timestamp, ...extra] = line.slice(i + 1).split(' ');
  if (extra.length > 0 || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) throw new Error(`${where}: trailing text`);
  // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan").
  const special = /^([+-]?)inf$/i.exec(valueText ?? '');
  const isNaN = /^nan$/i.test(valueText ?? '');
  const value = special ? (special[1] === '-' ? -Infinity : Infinity) : isNaN ? NaN : Number(valueText);
  if (valueText === undefined || valueText === '' || (Number.isNaN(value) && !isNaN)) throw new Error(`${where}: bad value`);
  return { name, labels, value };
}

/** The samples of `sampleName` whose labels include `labels`. */
export function samples(scrape: Scrape, sampleName: string, labels: Record<string, string> = {}): PromSample[] {
  const family = familyOf(scrape, sampleName);
  if (!family) return [];
  return family.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample of `sampleName` with exactly `labels` (plus `le` for a bucket); throws if there is none. */
export function value(scrape: Scrape, sampleName: string, labels: Record<string, string> = {}): number {
  const found = samples(scrape, sampleName, labels).filter((s) => Object.keys(s.labels).filter((k) => k !== 'le').length === Object.keys(labels).filter((k) => k !== 'le').length);
  if (found.length !== 1) throw new Error(`expected one ${sampleName}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

/** The value, or undefined when there is no such sample. */
export function valueOrUndefined(scrape: Scrape, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  try {
    return value(scrape, sampleName, labels);
  } catch {
    return undefined;
  }
}

/** GET `${url}/metrics`, checked for status and content type, parsed. */
export async function scrape(url: string, init: RequestInit = {}): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`, init);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}/metrics: ${response.status} ${text.slice(0, 300)}`);
  const type = response.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`GET ${url}/metrics: content type ${type}`);
  return parsePrometheusText(text);
}

/** Scrapes `url` until `condition` holds for a scrape, and returns that scrape. */
export async function scrapeUntil(url: string, condition: (scraped: Scrape) => boolean, what: string, timeoutMs = 15_000): Promise<Scrape> {
  let last: Scrape | undefined;
  await waitFor(what, async () => {
    last = await scrape(url);
    return condition(last);
  }, { timeoutMs, retryErrors: true });
  return last!;
}

/**
 * What every family of ours must be: `mom_` names, counters typed counter and named `_total`
 * (and nothing else named `_total`), histograms with ordered cumulative buckets ending in
 * +Inf that equals _count. Returns the problems found (empty: all well).
 */
export function conventionProblems(scrape: Scrape): string[] {
  const problems: string[] = [];
  for (const family of scrape.values()) {
    if (!family.name.startsWith('mom_')) continue;
    if (family.help === '') problems.push(`${family.name}: no HELP`);
    if (family.name.endsWith('_total') !== (family.type === 'counter')) problems.push(`${family.name}: typed ${family.type}`);
    if (family.type === 'counter' && family.samples.some((s) => !(s.value >= 0))) problems.push(`${family.name}: a negative counter`);
    if (family.type === 'histogram') problems.push(...histogramProblems(family));
  }
  return problems;
}

function histogramProblems(family: PromFamily): string[] {
  const problems: string[] = [];
  const series = new Map<string, PromSample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, list] of series) {
    const buckets = list.filter((s) => s.name === `${family.name}_bucket`);
    const count = list.find((s) => s.name === `${family.name}_count`);
    const sum = list.find((s) => s.name === `${family.name}_sum`);
    if (!count || !sum || buckets.length === 0) {
      problems.push(`${family.name}${key}: buckets, _sum and _count`);
      continue;
    }
    let previousLe = -Infinity;
    let previousValue = 0;
    for (const bucket of buckets) {
      const le = bucket.labels.le === '+Inf' ? Infinity : Number(bucket.labels.le);
      if (!(le > previousLe) || bucket.value < previousValue) problems.push(`${family.name}${key}: buckets not cumulative at le=${bucket.labels.le}`);
      previousLe = le;
      previousValue = bucket.value;
    }
    if (previousLe !== Infinity || previousValue !== count.value) problems.push(`${family.name}${key}: +Inf bucket ${previousValue} vs _count ${count.value}`);
  }
  return problems;
}
