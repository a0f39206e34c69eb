import type { Route } from '../../coordination/partition-map';
import type { StreamRelay } from './stream-relay';

/** How often relayed streams are checked against the map. */
const CHECK_MS = 500;

export interface SupervisedStream {
  exchange: string;
  name: string;
  /** The node the stream comes from. */
  origin: string;
}

/**
 * Ends a relayed stream (retryably) once the map names another leader for its partition: a
 * leader that froze or was cut off may never end its streams itself, and a consumer should
 * not wait longer than the failover for the new leader's stream (issue 11 §2).
 */
export class StreamSupervisor {
  private readonly relays = new Map<StreamRelay, SupervisedStream>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly route: (exchange: string, name: string) => Route) {}

  /** Watches `relay` until `forget`. */
  watch(relay: StreamRelay, stream: SupervisedStream): void {
    this.relays.set(relay, stream);
    this.timer ??= setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  forget(relay: StreamRelay): void {
    this.relays.delete(relay);
    if (this.relays.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private check(): void {
    for (const [relay, { exchange, name, origin }] of this.relays) {
      let leader: string | null;
      try {
        leader = this.route(exchange, name).node_location;
      } catch {
        continue; // no map right now: keep the stream
      }
      if (leader !== null && leader !== origin) relay.endRetryable(`the leadership of ${exchange}/${name} moved to ${leader}; reconnect`);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.relays.clear();
  }
}
