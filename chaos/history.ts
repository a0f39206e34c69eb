/**
 * The history of one fault-suite run and its checker (issue 11 §1). Pure: no I/O, no clock;
 * the runner records what producers, consumers and the partition-map sampler saw, and
 * `checkHistory` says what that history proves:
 *
 * - lost: acknowledged (201) and never delivered by the end of the drain;
 * - unexpected: delivered, never sent (an id no producer used, or a payload that is not the
 *   one sent under that id);
 * - duplicates: deliveries after the first, each with the reason that explains it, or
 *   `unexplained` (delivered again after an ack the broker confirmed);
 * - order: per consumer, the first deliveries of one producer's messages to one inbox must come
 *   in publish (seq) order; an inversion is excused only when the earlier-seq message came in a
 *   later leader epoch or as a redelivery (`deliveries` > 1), as the README allows;
 * - double leases: one id held by two consumers at once within one leader epoch;
 * - windows: the longest time a partition acknowledged no publish during each fault, for the
 *   partitions the faulted node led and for those it only followed.
 */

/** A message a producer tried to publish: one per (inbox, producer, seq), however many attempts. */
export interface PublishRecord {
  /** Where its deliveries come from: a queue, or the subscription of the topic it was published to. */
  inbox: string;
  partition: number;
  producer: string;
  seq: number;
  /** The producer id sent with every attempt (the broker answers it back as the message id). */
  id: string;
  firstSentAt: number;
  attempts: number;
  /** When the first 201 came; undefined if no attempt was acknowledged. */
  ackedAt: number | undefined;
  /** The last failure, for the report. */
  lastError: string | undefined;
}

/** One message handed to one consumer. */
export interface DeliveryRecord {
  inbox: string;
  partition: number;
  consumer: string;
  mode: 'pull' | 'stream';
  id: string;
  payload: unknown;
  /** The broker's `deliveries` (1 on a first delivery as far as the leader knows). */
  deliveries: number;
  at: number;
  /** Lease asked for (ms). */
  leaseMs: number;
  ackSentAt: number | undefined;
  /** `acked`: the broker settled it; `unknown`: it no longer held this lease; `error`: no answer. */
  ackResult: 'acked' | 'unknown' | 'error' | undefined;
  ackAnsweredAt: number | undefined;
}

/** A sample of one partition's entry in the partition map. */
export interface EpochSample {
  at: number;
  partition: number;
  epoch: number;
  leader: string | null;
  isr: string[];
  replicas: string[];
}

/** One injected fault: when, on whom, and the partitions that node led or followed right before. */
export interface FaultRecord {
  label: string;
  victim: string | undefined;
  startedAt: number;
  /** When the fault was undone (restart, SIGCONT, rules removed). */
  healedAt: number;
  /** Until when its windows are measured (the next fault, or the end of the load). */
  until: number;
  led: number[];
  followed: number[];
}

export interface History {
  publishes: PublishRecord[];
  deliveries: DeliveryRecord[];
  samples: EpochSample[];
  faults: FaultRecord[];
  /** Inbox → partition, for every inbox the load used. */
  inboxes: Map<string, number>;
  /** When producers started and stopped. */
  loadStartedAt: number;
  loadStoppedAt: number;
}

export type DuplicateReason =
  /** The earlier delivery's ack was answered `unknown` or failed: the broker did not settle it. */
  | 'ack_not_settled'
  /** Delivered again before the earlier delivery's ack was answered (the ack raced a failover). */
  | 'ack_in_flight'
  /** The earlier delivery was never acked by the time this one came (given back, or the consumer lost it). */
  | 'not_acked'
  /** Delivered again after an ack the broker confirmed: the broker broke its word. */
  | 'unexplained';

export interface Example {
  id: string;
  what: string;
}

export interface HistoryVerdict {
  /** Messages producers tried to publish (distinct ids). */
  published: number;
  acknowledged: number;
  /** Tried and never acknowledged (refused, timed out): they may or may not be stored. */
  unacknowledged: number;
  /** Unacknowledged messages that were delivered all the same (allowed: a lost answer). */
  unacknowledgedDelivered: number;
  deliveries: number;
  distinctDelivered: number;
  lost: number;
  lostExamples: Example[];
  unexpected: number;
  unexpectedExamples: Example[];
  duplicates: number;
  duplicatesByReason: Record<DuplicateReason, number>;
  duplicateExamples: Example[];
  orderViolations: number;
  /** Inversions excused by a later epoch or a redelivery. */
  orderInversionsExcused: number;
  orderExamples: Example[];
  doubleLeases: number;
  doubleLeaseExamples: Example[];
}

const MAX_EXAMPLES = 5;

function push(examples: Example[], example: Example): void {
  if (examples.length < MAX_EXAMPLES) examples.push(example);
}

/** The epoch timeline of each partition, to ask which epoch held at a given time. */
export class EpochTimeline {
  private readonly byPartition = new Map<number, EpochSample[]>();

  constructor(samples: readonly EpochSample[]) {
    for (const sample of samples) {
      let list = this.byPartition.get(sample.partition);
      if (!list) this.byPartition.set(sample.partition, (list = []));
      list.push(sample);
    }
    for (const list of this.byPartition.values()) list.sort((a, b) => a.at - b.at);
  }

  /** The epoch of the last sample at or before `at` (the first sample's if none is that early). */
  epochAt(partition: number, at: number): number | undefined {
    const list = this.byPartition.get(partition);
    if (!list || list.length === 0) return undefined;
    let found = list[0]!.epoch;
    for (const sample of list) {
      if (sample.at > at) break;
      found = sample.epoch;
    }
    return found;
  }

  /**
   * Whether one epoch surely held from `from` to `to`: the last sample before `from` and the
   * first sample after `to` name the same epoch (so no change can hide between two samples).
   */
  sameEpochThroughout(partition: number, from: number, to: number): boolean {
    const list = this.byPartition.get(partition);
    if (!list || list.length === 0) return false;
    let before: EpochSample | undefined;
    let after: EpochSample | undefined;
    for (const sample of list) {
      if (sample.at <= from) before = sample;
      if (sample.at >= to) {
        after = sample;
        break;
      }
    }
    if (!before || !after) return false;
    return list.every((s) => s.at < before.at || s.at > after.at || s.epoch === before.epoch);
  }
}

/** Checks a history; see the file comment for what each count means. */
export function checkHistory(history: History): HistoryVerdict {
  const timeline = new EpochTimeline(history.samples);
  const sent = new Map<string, PublishRecord>();
  for (const record of history.publishes) sent.set(`${record.inbox}\0${record.id}`, record);

  const byMessage = new Map<string, DeliveryRecord[]>();
  const unexpectedExamples: Example[] = [];
  let unexpected = 0;
  for (const delivery of history.deliveries) {
    const key = `${delivery.inbox}\0${delivery.id}`;
    const record = sent.get(key);
    if (!record || !samePayload(delivery.payload, record)) {
      unexpected++;
      push(unexpectedExamples, { id: delivery.id, what: record ? `payload ${JSON.stringify(delivery.payload)} is not the one sent (seq ${record.seq})` : `no producer sent it to ${delivery.inbox}` });
      continue;
    }
    let list = byMessage.get(key);
    if (!list) byMessage.set(key, (list = []));
    list.push(delivery);
  }
  for (const list of byMessage.values()) list.sort((a, b) => a.at - b.at);

  // Lost and unacknowledged.
  let acknowledged = 0;
  let lost = 0;
  let unacknowledgedDelivered = 0;
  const lostExamples: Example[] = [];
  for (const [key, record] of sent) {
    const delivered = byMessage.has(key);
    if (record.ackedAt !== undefined) {
      acknowledged++;
      if (!delivered) {
        lost++;
        push(lostExamples, { id: record.id, what: `${record.inbox} (p${record.partition}): acknowledged at ${iso(record.ackedAt)} after ${record.attempts} attempt(s), never delivered` });
      }
    } else if (delivered) {
      unacknowledgedDelivered++;
    }
  }

  // Duplicates and double leases.
  const duplicatesByReason: Record<DuplicateReason, number> = { ack_not_settled: 0, ack_in_flight: 0, not_acked: 0, unexplained: 0 };
  const duplicateExamples: Example[] = [];
  const doubleLeaseExamples: Example[] = [];
  let duplicates = 0;
  let doubleLeases = 0;
  for (const list of byMessage.values()) {
    for (let i = 1; i < list.length; i++) {
      const later = list[i]!;
      duplicates++;
      const reason = duplicateReason(list.slice(0, i), later);
      duplicatesByReason[reason]++;
      if (reason === 'unexplained') {
        const settled = list.slice(0, i).find((d) => d.ackResult === 'acked')!;
        push(duplicateExamples, { id: later.id, what: `${later.inbox}: acked by ${settled.consumer} (answered ${iso(settled.ackAnsweredAt!)}), delivered again to ${later.consumer} at ${iso(later.at)}` });
      }
      for (const earlier of list.slice(0, i)) {
        if (earlier.consumer === later.consumer) continue;
        if (!heldAt(earlier, later.at)) continue;
        if (!timeline.sameEpochThroughout(later.partition, earlier.at, later.at)) continue;
        doubleLeases++;
        push(doubleLeaseExamples, {
          id: later.id,
          what: `${later.inbox}: leased to ${earlier.consumer} at ${iso(earlier.at)} (lease ${earlier.leaseMs} ms, not settled) and to ${later.consumer} at ${iso(later.at)}, epoch ${timeline.epochAt(later.partition, later.at)}`,
        });
        break;
      }
    }
  }

  // Order of first deliveries, per consumer, per inbox and producer.
  const firsts = [...byMessage.values()].map((list) => list[0]!).sort((a, b) => a.at - b.at);
  const highest = new Map<string, { seq: number; delivery: DeliveryRecord }>();
  let orderViolations = 0;
  let orderInversionsExcused = 0;
  const orderExamples: Example[] = [];
  for (const delivery of firsts) {
    const record = sent.get(`${delivery.inbox}\0${delivery.id}`)!;
    const key = `${delivery.consumer}\0${delivery.inbox}\0${record.producer}`;
    const top = highest.get(key);
    if (!top || record.seq > top.seq) {
      highest.set(key, { seq: record.seq, delivery });
      continue;
    }
    const laterEpoch = (timeline.epochAt(delivery.partition, delivery.at) ?? 0) > (timeline.epochAt(top.delivery.partition, top.delivery.at) ?? 0);
    if (laterEpoch || delivery.deliveries > 1 || !timeline.sameEpochThroughout(delivery.partition, top.delivery.at, delivery.at)) {
      orderInversionsExcused++;
      continue;
    }
    orderViolations++;
    push(orderExamples, { id: delivery.id, what: `${delivery.consumer} got ${record.producer} seq ${record.seq} of ${delivery.inbox} at ${iso(delivery.at)}, after seq ${top.seq} at ${iso(top.delivery.at)}, same epoch` });
  }

  return {
    published: sent.size,
    acknowledged,
    unacknowledged: sent.size - acknowledged,
    unacknowledgedDelivered,
    deliveries: history.deliveries.length,
    distinctDelivered: byMessage.size,
    lost,
    lostExamples,
    unexpected,
    unexpectedExamples,
    duplicates,
    duplicatesByReason,
    duplicateExamples,
    orderViolations,
    orderInversionsExcused,
    orderExamples,
    doubleLeases,
    doubleLeaseExamples,
  };
}

/** Why `later` came although `earlier` deliveries of the same message came before it. */
function duplicateReason(earlier: readonly DeliveryRecord[], later: DeliveryRecord): DuplicateReason {
  // An ack the broker confirmed before this delivery: nothing excuses it.
  if (earlier.some((d) => d.ackResult === 'acked' && d.ackAnsweredAt !== undefined && d.ackAnsweredAt <= later.at)) return 'unexplained';
  const last = earlier[earlier.length - 1]!;
  if (last.ackSentAt === undefined || last.ackSentAt > later.at) return 'not_acked';
  if (last.ackResult === 'unknown' || last.ackResult === 'error') return 'ack_not_settled';
  return 'ack_in_flight';
}

/**
 * Whether `delivery` was surely still leased to its consumer at `at`. Consumers ack at once,
 * so what bounds the lease is the broker's answer: an ack answered `acked` was settled by the
 * broker before it answered, so the lease lasted at least until the ack was sent (and the
 * broker may not hand the message out again before settling it: until the answer). An ack
 * answered `unknown` says the lease had already ended (a stream that closed gives its
 * messages back): no claim. A failed or unanswered ack leaves the lease with its consumer
 * until it expires.
 */
function heldAt(delivery: DeliveryRecord, at: number): boolean {
  if (at < delivery.at || at >= delivery.at + delivery.leaseMs) return false;
  switch (delivery.ackResult) {
    case 'acked':
      return delivery.ackAnsweredAt === undefined || at < delivery.ackAnsweredAt;
    case 'unknown':
      return false;
    default:
      return true;
  }
}

function samePayload(payload: unknown, record: PublishRecord): boolean {
  if (typeof payload !== 'object' || payload === null) return false;
  const { producer, seq } = payload as { producer?: unknown; seq?: unknown };
  return producer === record.producer && seq === record.seq;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

// ---- windows without an acknowledged publish --------------------------------------------

/**
 * The longest stretch of [from, to] with no acknowledgment among `ackTimes` (ms, any order):
 * the gaps between consecutive acknowledgments, and from `from` to the first and from the
 * last to `to`. 0 for an empty interval.
 */
export function longestGap(ackTimes: readonly number[], from: number, to: number): number {
  if (to <= from) return 0;
  const inside = ackTimes.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let longest = 0;
  let previous = from;
  for (const t of inside) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.max(longest, to - previous);
}

export interface FaultWindows {
  label: string;
  victim: string | undefined;
  /** Longest no-ack window (ms) over the inboxes of partitions the victim led; undefined if none was loaded. */
  ledMs: number | undefined;
  /** Same, for the partitions it only followed (or, for a fault on no node, every partition). */
  followedMs: number | undefined;
  /** The inbox that had the longest window in each group. */
  ledInbox: string | undefined;
  followedInbox: string | undefined;
}

/**
 * For each fault: the longest window without an acknowledged publish between its start and
 * `until`, per group of partitions. A fault on no node (ZooKeeper, the whole network) puts
 * every partition in `followed`.
 */
export function faultWindows(history: Pick<History, 'publishes' | 'faults' | 'inboxes'>): FaultWindows[] {
  const acksByInbox = new Map<string, number[]>();
  for (const inbox of history.inboxes.keys()) acksByInbox.set(inbox, []);
  for (const record of history.publishes) if (record.ackedAt !== undefined) acksByInbox.get(record.inbox)?.push(record.ackedAt);
  return history.faults.map((fault) => {
    let led: { ms: number; inbox: string } | undefined;
    let followed: { ms: number; inbox: string } | undefined;
    for (const [inbox, partition] of history.inboxes) {
      const ms = longestGap(acksByInbox.get(inbox) ?? [], fault.startedAt, fault.until);
      const group = fault.led.includes(partition) ? 'led' : fault.victim === undefined || fault.followed.includes(partition) ? 'followed' : undefined;
      if (group === 'led' && (!led || ms > led.ms)) led = { ms, inbox };
      if (group === 'followed' && (!followed || ms > followed.ms)) followed = { ms, inbox };
    }
    return { label: fault.label, victim: fault.victim, ledMs: led?.ms, followedMs: followed?.ms, ledInbox: led?.inbox, followedInbox: followed?.inbox };
  });
}

/** Whether a sample shows a leader and every replica in the ISR. */
export function isFull(sample: EpochSample): boolean {
  return sample.leader !== null && sample.replicas.length > 0 && sample.replicas.every((r) => sample.isr.includes(r));
}

/**
 * When every partition's ISR was full again for good after `after`: `after` itself if no
 * sample from then on shows a partition short of a replica, else the time of the first
 * sample after the last one that does; undefined if no sample came after that one.
 */
export function fullIsrAt(samples: readonly EpochSample[], after: number): number | undefined {
  const later = samples.filter((s) => s.at >= after);
  const notFull = later.filter((s) => !isFull(s));
  if (notFull.length === 0) return after;
  const worst = Math.max(...notFull.map((s) => s.at));
  const next = later.filter((s) => s.at > worst).map((s) => s.at);
  return next.length === 0 ? undefined : Math.min(...next);
}
