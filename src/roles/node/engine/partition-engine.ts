import type { QueueOptions, SubscriptionStart, TargetKind, TopicOptions } from '../../../core/entries';
import type { PublishInput } from '../../../core/requests';
import type { AckMode, CommitLog } from '../../../log/commit-log';
import type { InboxRecord } from '../../../store/catalog';
import type { DeadLetterRow, NodeStore } from '../../../store/node-store';
import { Consumption, type DeliveredMessage, type InboxStats, type PullRequest } from './consumption';
import { Declarations } from './declarations';
import { LeaderPartition, type EngineOptions } from './leader-partition';
import { Publishing, type PublishResult } from './publishing';
import { Repair } from './repair';
import { Settlement, type SettleSummary } from './settlement';
import type { EventSink, StreamConsumer, StreamOptions } from './stream-consumer';
import { Streaming } from './streaming';
import type { MomError } from '../../../core/errors';

const NO_LOAD = Object.freeze({ inFlight: 0, streams: 0, waiting: 0 });

export type { DeliveredMessage, EngineOptions, InboxStats, PublishResult, PullRequest, SettleSummary };

/**
 * A partition on its leader: turns client operations into log entries, commits them, and
 * keeps the leader-local delivery state in step with what applying them changed. One family
 * of operations per file, as one handler per packet type reads in MQTT brokers like aedes:
 * declarations.ts, publishing.ts, consumption.ts (leases, long polls), streaming.ts (push
 * delivery), settlement.ts (acks, nacks, expiries), repair.ts (purge, redrive, dead-letter
 * deletion), over what they share (leader-partition.ts).
 */
export class PartitionEngine {
  private readonly shared: LeaderPartition;
  private readonly declarations: Declarations;
  private readonly publishing: Publishing;
  private readonly settlement: Settlement;
  private readonly consumption: Consumption;
  private readonly streaming: Streaming;
  private readonly repair: Repair;

  constructor(store: NodeStore, log: CommitLog, options: EngineOptions) {
    this.shared = new LeaderPartition(store, log, options);
    this.declarations = new Declarations(this.shared);
    this.publishing = new Publishing(this.shared);
    this.settlement = new Settlement(this.shared);
    this.consumption = new Consumption(this.shared, this.settlement);
    this.streaming = new Streaming(this.shared, this.consumption);
    this.repair = new Repair(this.shared);
  }

  get partition(): number {
    return this.shared.partition;
  }

  get epoch(): number {
    return this.shared.log.epoch;
  }

  get commitLog(): CommitLog {
    return this.shared.log;
  }

  compactionFloor(): number {
    return this.shared.log.compactionFloor();
  }

  declareQueue(exchange: string, queue: string, options: QueueOptions): Promise<boolean> {
    return this.declarations.declareQueue(exchange, queue, options);
  }

  deleteQueue(exchange: string, queue: string): Promise<void> {
    return this.declarations.deleteQueue(exchange, queue);
  }

  declareTopic(exchange: string, topic: string, options: TopicOptions): Promise<boolean> {
    return this.declarations.declareTopic(exchange, topic, options);
  }

  deleteTopic(exchange: string, topic: string): Promise<void> {
    return this.declarations.deleteTopic(exchange, topic);
  }

  subscribe(exchange: string, topic: string, subscription: string, from: SubscriptionStart): Promise<boolean> {
    return this.declarations.subscribe(exchange, topic, subscription, from);
  }

  unsubscribe(exchange: string, topic: string, subscription: string): Promise<void> {
    return this.declarations.unsubscribe(exchange, topic, subscription);
  }

  purgeExchange(exchange: string): Promise<void> {
    return this.declarations.purgeExchange(exchange);
  }

  publish(target: TargetKind, exchange: string, name: string, inputs: PublishInput[], acks: AckMode): Promise<PublishResult> {
    return this.publishing.publish(target, exchange, name, inputs, acks);
  }

  pull(inboxKey: string, request: PullRequest): Promise<DeliveredMessage[]> {
    return this.consumption.pull(inboxKey, request);
  }

  /** Opens a push stream on an inbox (DESIGN §8); the response's head is sent already. */
  openStream(inboxKey: string, sink: EventSink, options: Omit<StreamOptions, 'keepaliveMs'>): StreamConsumer {
    return this.streaming.open(inboxKey, sink, options);
  }

  /** `user`: the user id acking; ids leased to another consumer are `unknown` (DESIGN §7). */
  ack(inboxKey: string, ids: string[], user: number): Promise<SettleSummary> {
    return this.settlement.ack(inboxKey, ids, user);
  }

  nack(inboxKey: string, ids: string[], requeue: boolean, user: number): Promise<SettleSummary> {
    return this.settlement.nack(inboxKey, ids, requeue, user);
  }

  sweepLeases(now: number): void {
    this.settlement.sweepLeases(now);
  }

  stats(inboxKey: string): InboxStats {
    return this.consumption.stats(inboxKey);
  }

  deadLetters(inboxKey: string, afterOffset: number, limit: number): DeadLetterRow[] {
    return this.consumption.deadLetters(inboxKey, afterOffset, limit);
  }

  /** Removes the inbox's ready messages, not the leased ones; resolves how many went. */
  purge(inboxKey: string): Promise<number> {
    return this.repair.purge(inboxKey);
  }

  /** Makes dead letters deliverable again with their deliveries reset (`ids` null: all); resolves how many. */
  redriveDeadLetters(inboxKey: string, ids: readonly string[] | null): Promise<number> {
    return this.repair.redrive(inboxKey, ids);
  }

  /** Deletes dead letters (`ids` null: all); resolves how many. */
  deleteDeadLetters(inboxKey: string, ids: readonly string[] | null): Promise<number> {
    return this.repair.deleteDeadLetters(inboxKey, ids);
  }

  /** Leader-local load of an inbox, for /metrics: leases out, streams open, long polls waiting. */
  deliveryLoad(inboxId: number): { inFlight: number; streams: number; waiting: number } {
    const delivery = this.shared.existingDelivery(inboxId);
    return delivery ? { inFlight: delivery.leases.size, streams: delivery.streams.size, waiting: delivery.waiters.length } : NO_LOAD;
  }

  inbox(inboxKey: string): InboxRecord {
    return this.shared.requireInbox(inboxKey);
  }

  /** Answers every waiting long poll now (empty) and ends every stream with `reason`, for a shutdown. */
  drain(reason: MomError): void {
    this.consumption.wakeAllWaiters();
    this.streaming.endAll(reason);
  }

  /** Stops leading: wakes long polls (they answer empty) and refuses new work. Idempotent. */
  close(): Promise<void> {
    return this.shared.close();
  }
}
