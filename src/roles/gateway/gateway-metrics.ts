import type { Metrics, Sample } from '../../runtime/metrics';

/** How a forwarded request ended (a bounded label value). */
export type ForwardOutcome =
  /** A node's answer went back to the client (whatever its status), or a stream was relayed. */
  | 'answered'
  /** No node could serve it within the retry deadline: 503 unavailable. */
  | 'unavailable'
  /** A node failed while handling a request that is not safe to send twice: 503, not resent. */
  | 'not_resent'
  /** The client went away first (a long poll or a stream). */
  | 'client_gone'
  /** Anything else (a node's answer cut after its headers, an unexpected error). */
  | 'error';

const OUTCOMES: readonly ForwardOutcome[] = ['answered', 'unavailable', 'not_resent', 'client_gone', 'error'];
/** Raised where the route or the connection failed; codes are a closed list, so label values stay bounded. */
const CONNECT_FAILED = 'connect_failed';
const CONNECTION_LOST = 'connection_lost';

/**
 * The gateway's forwarding, for /metrics: requests forwarded by outcome, retries by reason,
 * streams relayed now. Plain numbers bumped per request, read at scrape time.
 */
export class GatewayMetrics {
  private readonly outcomes = new Map<ForwardOutcome, number>(OUTCOMES.map((outcome) => [outcome, 0]));
  /** The usual reasons start at 0, so that rate() sees their first retry; rarer ones appear when they happen. */
  private readonly retries = new Map<string, number>(['not_leader', 'unavailable', CONNECT_FAILED].map((reason) => [reason, 0]));
  streamsOpen = 0;

  constructor(metrics: Metrics) {
    metrics.counters(
      'mom_gateway_requests_total',
      'requests the gateway forwarded to a node, by outcome: answered, unavailable (retry deadline passed), not_resent, client_gone, error',
      ['outcome'],
      () => [...this.outcomes].map(([outcome, value]): Sample => ({ labels: { outcome }, value })),
    );
    metrics.counters(
      'mom_gateway_retries_total',
      'attempts the gateway made again, by reason: not_leader, unavailable, not_enough_replicas, insufficient_storage (a node\'s answer), connect_failed, connection_lost',
      ['reason'],
      () => [...this.retries].map(([reason, value]): Sample => ({ labels: { reason }, value })),
    );
    metrics.gauge('mom_gateway_streams_open', 'push streams the gateway relays now', () => this.streamsOpen);
  }

  ended(outcome: ForwardOutcome): void {
    this.outcomes.set(outcome, this.outcomes.get(outcome)! + 1);
  }

  /** `code`: the failure's code, a node's error code or a network error's (see Forwarder). */
  retried(code: string, connectError: boolean): void {
    const reason = connectError ? CONNECT_FAILED : /^[a-z_]+$/.test(code) ? code : CONNECTION_LOST;
    this.retries.set(reason, (this.retries.get(reason) ?? 0) + 1);
  }
}
