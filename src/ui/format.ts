/** How numbers, rates, times and payloads read on the page. Pure. */

const COUNT = new Intl.NumberFormat('en-US');

export function formatCount(value: number | undefined): string {
  return value === undefined ? '—' : COUNT.format(value);
}

/** `+12/s`, `−0.5/s`, `0/s`; `—` before there are two polls. */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  const magnitude = Math.abs(perSecond);
  if (magnitude < 0.005) return '0/s';
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
  return `${perSecond > 0 ? '+' : '−'}${fixed(magnitude, digits)}/s`;
}

/** A rate of a counter (published per second): never signed. */
export function formatThroughput(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  const digits = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
  return `${fixed(perSecond, digits)}/s`;
}

/** `value` with at most `digits` decimals, trailing zeros after the point dropped (`2.50` → `2.5`, `100` stays). */
function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** `3d 4h`, `5m 12s`, `800 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.floor(ms / 1000);
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    if (rest >= size || (parts.length === 0 && size === 1)) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** An ISO 8601 time as `2026-12-03 14:05:09` (UTC, as the API gives it), or the text unchanged. */
export function formatTimestamp(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]}` : iso;
}

/** A JSON value on one line, cut to `max` characters with an ellipsis. */
export function previewJson(value: unknown, max = 120): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
