import type { RequestObserver } from '../http/server';
import { statusClass, type HistogramSeries, type Metrics } from '../runtime/metrics';

/** Seconds; long polls last up to 30 s, streams longer (they land in +Inf). */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);

type RequestLabel = 'method' | 'route' | 'status_class';

/**
 * What every process exports whatever its roles: which build and roles it runs, and its HTTP
 * listener's requests (by method, route pattern and status class: label values bounded by the
 * route table) and connections. Returns the listener's `onRequestDone` hook.
 */
export function registerProcessMetrics(
  metrics: Metrics,
  info: { version: string; roles: readonly string[] },
  connections: () => number,
): RequestObserver {
  metrics.gauges('mom_build_info', 'always 1: the version of mombroker and the roles this process runs', ['version', 'roles'], () => [
    { labels: { version: info.version, roles: [...info.roles].sort().join(',') }, value: 1 },
  ]);
  metrics.gauge('mom_http_connections_open', 'client connections open on this process\'s HTTP listener (see --max-connections)', connections);
  const durations = metrics.histogram<RequestLabel>(
    'mom_http_request_duration_seconds',
    'HTTP requests served by this process, from the request to the end of its handler (a stream: its whole life), by method, route pattern and status class',
    ['method', 'route', 'status_class'],
    REQUEST_BUCKETS,
  );
  // Per route pattern, method and status: the series, found once.
  const byRoute = new Map<string, Map<number, HistogramSeries>>();
  return (method, route, status, seconds) => {
    const m = METHODS.has(method) ? method : 'other';
    const routeKey = m === 'GET' ? route : `${m} ${route}`;
    let byStatus = byRoute.get(routeKey);
    if (!byStatus) byRoute.set(routeKey, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = durations.series({ method: m, route, status_class: statusClass(status) })));
    series.observe(seconds);
  };
}
