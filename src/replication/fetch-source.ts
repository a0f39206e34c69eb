import type { StoredEntry } from '../core/entries';
import type { FetchRequest } from '../gen/mom/replication/v1/replication';

/** A follower's fetch as a leader's log takes it: the wire request without the partition, which chose the log. */
export type FollowerFetch = Omit<FetchRequest, 'partition'>;

/** What a leader answers a follower's fetch (the wire's FetchResponse, before encoding). */
export interface FetchResult {
  entries: StoredEntry[];
  highWatermark: number;
  compactBelow: number;
  /** Set when the follower holds entries no leader committed: it truncates to `endOffset` (DESIGN §5). */
  diverging?: { epoch: number; endOffset: number };
}

/** What the replicator serves fetches from: the log of a partition this node leads. */
export interface FetchSource {
  readonly epoch: number;
  handleFetch(fetch: FollowerFetch): Promise<FetchResult>;
}
