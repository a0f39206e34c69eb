/**
 * A partition engine (src/roles/node/engine/) for unit tests: partition 0 led here over a
 * NodeStore in a temp dir and a started LocalCommitLog, as a single-replica node runs it. The
 * engine is closed when the test ends. Small helpers name messages by their payloads.
 */
import type { TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type QueueOptions } from '../../src/core/entries';
import type { PublishInput } from '../../src/core/requests';
import type { CommitLog } from '../../src/log/commit-log';
import { LocalCommitLog } from '../../src/log/local-commit-log';
import { PartitionEngine, type DeliveredMessage } from '../../src/roles/node/engine/partition-engine';
import { silentLogger } from '../../src/runtime/logger';
import type { NodeStore } from '../../src/store/node-store';
import { openTempStore } from './node-store';

export const PARTITION = 0;
export const QUEUE_INBOX = 'q:ex/q';
/** The user id the helpers pull and settle as (leases are their user's: DESIGN §7). */
export const USER = 1;

export interface EngineOptions {
  /** The store to lead over (a new one in a temp dir by default): a second engine on it is a new leader. */
  store?: NodeStore;
  /** The leader epoch; default 1. */
  epoch?: number;
  /** Default 10 minutes, the broker's default. */
  dedupWindowMs?: number;
  /** Wraps the engine's LocalCommitLog (e.g. to make commits fail). */
  wrapLog?: (log: LocalCommitLog) => CommitLog;
}

export interface EngineFixture {
  engine: PartitionEngine;
  store: NodeStore;
  log: CommitLog;
}

export async function startEngine(t: TestContext, options: EngineOptions = {}): Promise<EngineFixture> {
  const store = options.store ?? openTempStore(t);
  const local = new LocalCommitLog(store, PARTITION, options.epoch ?? 1, 'n1');
  const log = options.wrapLog ? options.wrapLog(local) : local;
  await log.start();
  const engine = new PartitionEngine(store, log, {
    dedupWindowMs: options.dedupWindowMs ?? 600_000,
    logger: silentLogger,
    unreadBudget: { limit: 64 * 1024 * 1024, perInbox: 10_000, used: 0 },
    streamKeepaliveMs: 10_000,
  });
  t.after(() => engine.close());
  return { engine, store, log };
}

/** Declares queue `ex/q` (QUEUE_INBOX). */
export async function declareQueue(engine: PartitionEngine, options: Partial<QueueOptions> = {}): Promise<void> {
  await engine.declareQueue('ex', 'q', { ...DEFAULT_QUEUE_OPTIONS, ...options });
}

/** One PublishInput per payload (a string, sent as JSON text); `producerId` for all of them if given. */
export function messages(payloads: string[], producerId?: string): PublishInput[] {
  return payloads.map((payload) => ({ payload: JSON.stringify(payload), headers: undefined, producerId }));
}

/** Publishes payloads to queue `ex/q`; the ids. */
export async function publishToQueue(engine: PartitionEngine, ...payloads: string[]): Promise<string[]> {
  return (await engine.publish('queue', 'ex', 'q', messages(payloads), 'all')).ids;
}

/** Pulls without waiting, leasing for a minute. */
export function pullNow(engine: PartitionEngine, inbox: string, max = 100): Promise<DeliveredMessage[]> {
  return engine.pull(inbox, { max, waitMs: 0, leaseMs: 60_000, user: USER });
}

/** The payloads of delivered messages, decoded. */
export function payloads(delivered: DeliveredMessage[]): string[] {
  return delivered.map((m) => JSON.parse(m.payload) as string);
}
