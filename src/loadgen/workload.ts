/**
 * The clock every workload shares, and the mombroker pieces its driver (drivers/mombroker.ts)
 * is made of: the payload, SDK connections, fresh queues, and the pull consumer loop (pull up
 * to `max` with a long poll; acks go in the background, coalesced, while the next pull is
 * already on its way).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, isMomClientError, type Connection, type Message, type Queue } from '../client';

export interface Target {
  url: string;
  user: string;
  password: string;
  /** A bearer token to use instead of logging in at `url` (tokens live an hour: enough for a bench). */
  token?: string;
  /** PEM CA to trust for an https:// `url`. */
  ca?: Buffer;
  /** The SDK's routing (ConnectOptions.routing): `leader` sends each queue's requests to its partition leader. */
  routing?: 'gateway' | 'leader';
}

/** Wall-clock milliseconds with sub-millisecond resolution (same clock in every part of this process). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A JSON string payload whose serialized form is exactly `bytes` bytes (quotes included). */
export function makePayload(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 2) throw new RangeError(`payload: expected at least 2 bytes, got ${bytes}`);
  // A fixed pattern rather than one repeated char, so nothing along the way can shortcut it.
  const pattern = 'mombroker-bench-payload-0123456789abcdefghijklmnopqrstuvwxyz-';
  return pattern.repeat(Math.ceil(bytes / pattern.length)).slice(0, bytes - 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One SDK connection, as one client application would hold it. `sockets` bounds the pool;
 * failed requests are retried by the SDK for at most `retryDeadlineMs`.
 */
export function openConnection(target: Target, sockets: number): Promise<Connection> {
  const credentials = target.token !== undefined ? { token: target.token } : { user: target.user, password: target.password };
  return connect({ url: target.url, ...credentials, connections: sockets, retryDeadlineMs: 5_000, ...(target.ca ? { ca: target.ca } : {}), ...(target.routing ? { routing: target.routing } : {}) });
}

/** POST /auth at `authUrl` (the auth role itself), for a gateway that does not route it. */
export async function loginAt(authUrl: string, user: string, password: string): Promise<string> {
  const response = await fetch(`${authUrl}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, pass: password }) });
  const body = (await response.json().catch(() => undefined)) as { token?: unknown } | undefined;
  if (response.status !== 200 || typeof body?.token !== 'string') throw new Error(`login at ${authUrl}/auth failed: ${response.status}`);
  return body.token;
}

/** Declares a queue nobody used before in `exchange` and returns its name. */
export async function declareFreshQueue(admin: Connection, exchange: string, prefix: string): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  await admin.queue(exchange, name).declare();
  return name;
}

/** Best effort: a benchmark queue's backlog should not weigh on the next run. */
export async function deleteQueueQuietly(admin: Connection, exchange: string, name: string): Promise<void> {
  try {
    await admin.queue(exchange, name).delete();
  } catch {
    // The run's numbers are already taken; a leftover queue only costs disk in a temp dir.
  }
}

export interface ConsumeLoopOptions {
  max: number;
  waitMs: number;
  signal: AbortSignal;
  /** Called with every pulled batch as soon as it is parsed, with the receive time. */
  onReceive?: (messages: Message[], receivedAtMs: number) => void;
  /** Called with the server's `acked` count when an ack request is answered. */
  onAcked: (acked: number) => void;
}

/** Ids per ack request: the server takes 10,000; the SDK's consumer sends at most 1,000. */
const ACK_IDS_PER_REQUEST = 1_000;

/**
 * Pulls and acks until `signal` aborts. Acks go in the background, as the SDK's `consume()`
 * sends them, here with at most one ack request in flight per loop: ids pulled meanwhile wait
 * and leave together in the next one, so a pull never waits for an ack (waiting made consumers
 * leave the queue without a pull for a whole ack round trip). Resolves after every pulled id
 * was acked; rejects on the first error that is not the abort.
 */
export async function consumeLoop(queue: Queue, options: ConsumeLoopOptions): Promise<void> {
  const { max, waitMs, signal, onReceive, onAcked } = options;
  const waitingIds: string[] = [];
  let ackInFlight: Promise<void> | undefined;
  let ackFailure: unknown;
  const sendAcks = (): void => {
    if (ackInFlight !== undefined || waitingIds.length === 0 || ackFailure !== undefined) return;
    const ids = waitingIds.splice(0, ACK_IDS_PER_REQUEST);
    ackInFlight = queue.ack(ids).then(
      (result) => {
        ackInFlight = undefined;
        onAcked(result.acked);
        sendAcks();
      },
      (error: unknown) => {
        ackInFlight = undefined;
        ackFailure ??= error;
      },
    );
  };
  while (!signal.aborted) {
    if (ackFailure !== undefined) throw ackFailure;
    let messages: Message[];
    try {
      messages = await queue.pull({ max, waitMs, signal });
    } catch (error) {
      if (signal.aborted && isMomClientError(error) && (error.code === 'aborted' || error.code === 'closed')) break;
      throw error;
    }
    if (messages.length === 0) continue;
    onReceive?.(messages, nowMs());
    for (const message of messages) waitingIds.push(message.id);
    sendAcks();
  }
  while (ackInFlight !== undefined) await ackInFlight;
  if (ackFailure !== undefined) throw ackFailure;
}

export async function closeAll(connections: Connection[]): Promise<void> {
  await Promise.allSettled(connections.map((connection) => connection.close()));
}
