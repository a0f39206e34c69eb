/**
 * Workloads for cluster tests (./cluster.ts): names that fall in a chosen partition, producers
 * that publish until stopped, a consumer that drains an inbox, and the no-loss assertion.
 */
import assert from 'node:assert/strict';
import type { Cluster, PartitionInfo, PartitionMap } from './cluster';
import type { Api, WireMessage } from './http-api';

// ---- names ---------------------------------------------------------------------------------

/** A name `<prefix>-<n>` whose (exchange, name) falls in `partition`. */
export function nameInPartition(cluster: Pick<Cluster, 'partitionOf'>, exchange: string, partition: number, prefix: string): string {
  for (let i = 0; i < 100_000; i++) {
    const name = `${prefix}-${i}`;
    if (cluster.partitionOf(exchange, name) === partition) return name;
  }
  throw new Error(`no name ${prefix}-N falls in partition ${partition}`);
}

/** The first partition (in order) whose map entry satisfies `condition`. */
export function findPartition(map: PartitionMap, condition: (info: PartitionInfo) => boolean, what: string): PartitionInfo {
  const found = map.partitions.find(condition);
  assert.ok(found, `no partition where ${what}: ${JSON.stringify(map.partitions)}`);
  return found;
}

/** `/v1/exchanges/{ex}/queues/{q}` */
export function queuePath(exchange: string, queue: string): string {
  return `/v1/exchanges/${exchange}/queues/${queue}`;
}

// ---- consumption ---------------------------------------------------------------------------

export interface ConsumeResult {
  messages: WireMessage[];
  /** Distinct message ids seen. */
  ids: Set<string>;
}

/**
 * Pulls (max 100) and acks from an inbox until every `expected` id has been seen and a pull
 * comes back empty, or until `timeoutMs` passes (then the caller's assertion names what is
 * missing). Pulls wait up to 500 ms, so entries a new leader has yet to commit are waited
 * for rather than reported missing. Failed pulls (a failover still settling) are retried.
 */
export async function consumeAll(api: Api, inbox: string, expected: Iterable<string>, timeoutMs = 30_000): Promise<ConsumeResult> {
  const missing = new Set(expected);
  const messages: WireMessage[] = [];
  const ids = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Once everything expected is in, one quick empty pull ends it (duplicates come first).
    const waitMs = missing.size === 0 ? 0 : 500;
    const response = await api.get(`${inbox}/messages?max=100&wait_ms=${waitMs}&lease_ms=120000`);
    if (response.status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const batch = response.body.messages as WireMessage[];
    if (batch.length === 0) {
      if (missing.size === 0) break;
      continue;
    }
    for (const message of batch) {
      messages.push(message);
      ids.add(message.id);
      missing.delete(message.id);
    }
    const ack = await api.post(`${inbox}/ack`, { ids: batch.map((m) => m.id) });
    assert.equal(ack.status, 200, `ack on ${inbox}: ${ack.status} ${ack.text.slice(0, 300)}`);
  }
  return { messages, ids };
}

/** Asserts that every id in `acknowledged` was consumed; names a few missing ones if not. */
export function assertNoLoss(acknowledged: Iterable<string>, consumed: Set<string>, what: string): void {
  const missing = [...acknowledged].filter((id) => !consumed.has(id));
  assert.equal(missing.length, 0, `${what}: ${missing.length} acknowledged message(s) were lost, e.g. ${missing.slice(0, 5).join(', ')}`);
}

// ---- producers -----------------------------------------------------------------------------

export interface ProducerRun {
  /** Message ids answered 201, with when the answer came. */
  readonly acked: Map<string, number>;
  /** Requests sent, by producer. */
  readonly sent: number[];
  /** Answers that were not 201, by "status code" (e.g. "503 unavailable", "fetch failed"). */
  readonly refused: Map<string, number>;
  /** How many ids were acknowledged after `time` (ms since epoch). */
  ackedSince(time: number): number;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void>;
}

/**
 * `producers` loops, each publishing one message at a time to `path` (a queue or topic path)
 * until stopped, `maxEach` messages, or `maxMs`. Payloads are `{producer, seq}`.
 */
export function startProducers(api: Api, path: string, options: { producers: number; maxEach: number; maxMs: number }): ProducerRun {
  const acked = new Map<string, number>();
  const refused = new Map<string, number>();
  const sent = new Array<number>(options.producers).fill(0);
  const deadline = Date.now() + options.maxMs;
  let stopped = false;
  const count = (key: string) => refused.set(key, (refused.get(key) ?? 0) + 1);
  const loops = Array.from({ length: options.producers }, async (_, producer) => {
    for (let seq = 0; seq < options.maxEach && !stopped && Date.now() < deadline; seq++) {
      sent[producer]++;
      try {
        const response = await api.post(`${path}/messages`, { payload: { producer, seq } }, { signal: AbortSignal.timeout(30_000) });
        if (response.status === 201) {
          for (const id of response.body.ids as string[]) acked.set(id, Date.now());
        } else {
          count(`${response.status} ${response.body?.error?.code ?? ''}`.trim());
        }
      } catch (error) {
        count((error as Error).message);
      }
    }
  });
  const all = Promise.all(loops).then(() => undefined);
  return {
    acked,
    sent,
    refused,
    ackedSince: (time) => {
      let n = 0;
      for (const at of acked.values()) if (at > time) n++;
      return n;
    },
    stop: async () => {
      stopped = true;
      await all;
    },
  };
}
