/**
 * Push consumption (DESIGN §8 streams): one long-lived `GET …/stream` of Server-Sent Events,
 * the server sending each message as soon as it is committed, up to `prefetch` unsettled.
 * Acks and nacks go through the usual endpoints, coalesced in the background, and give the
 * stream its credit back. A stream the server ends with a retryable error (failover,
 * shutdown) or that breaks is opened again with backoff, through the gateway to the new
 * leader; what was delivered and not acked may come again (at-least-once).
 */
import type { ClientContext } from './context';
import { isMomClientError, MomClientError } from './errors';
import { EventStreamParser } from './event-stream-parser';
import { Message, type MessageSettler } from './message';
import { backoffDelay, delay } from './retry';
import type { WireMessage } from './types';

export interface StreamConsumeOptions {
  prefetch: number;
  leaseMs: number | undefined;
  autoAck: boolean;
  signal: AbortSignal;
  /** Give up reconnecting after this long without a stream open (the connection's retry deadline). */
  reconnectDeadlineMs: number;
}

/** Codes of a server-ended stream (`event: error`) after which a new stream can work. */
const RECONNECT_CODES: ReadonlySet<string> = new Set(['unavailable', 'not_leader', 'timeout', 'insufficient_storage', 'too_many_requests', 'not_enough_replicas']);

export interface StreamSettler extends MessageSettler {
  /** Sends the acks and nacks buffered so far; resolves when answered. */
  flush(): Promise<void>;
}

/** Yields the messages of `basePath`'s stream, reconnecting as above, until `signal` aborts. */
export async function* streamMessages(context: ClientContext, basePath: string, settler: StreamSettler, options: StreamConsumeOptions): AsyncGenerator<Message, void, undefined> {
  let attempt = 0;
  let failingSince: number | undefined;
  let ackFailure: unknown;
  const autoAckOne = (message: Message): void => {
    settler.ackOne(message.id).catch((error: unknown) => {
      ackFailure ??= error;
    });
  };
  while (!options.signal.aborted) {
    const streamAbort = new AbortController();
    let chunks: AsyncIterator<Buffer> | undefined;
    let ended: MomClientError | undefined;
    try {
      const stream = await context.openStream({
        path: `${basePath}/stream`,
        query: { prefetch: options.prefetch, lease_ms: options.leaseMs },
        signal: AbortSignal.any([options.signal, streamAbort.signal]),
      });
      attempt = 0;
      failingSince = undefined;
      const parser = new EventStreamParser();
      const decoder = new TextDecoder();
      // Iterated by hand, not with for-await: leaving the loop would close the body at once,
      // before the acks of the messages just handled are sent (see finally).
      chunks = stream.chunks[Symbol.asyncIterator]();
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        for (const event of parser.feed(decoder.decode(next.value, { stream: true }))) {
          if (event.event === 'error') {
            ended = endedError(event.data);
            continue;
          }
          if (event.event !== 'message') continue;
          if (ackFailure !== undefined) throw ackFailure;
          const message = new Message(JSON.parse(event.data) as WireMessage, settler);
          yield message;
          if (options.autoAck) autoAckOne(message);
        }
      }
      ended ??= new MomClientError('network_error', `the stream of ${basePath} ended without saying why`, { retryable: true });
    } catch (error) {
      if (options.signal.aborted && isMomClientError(error) && (error.code === 'aborted' || error.code === 'closed')) return;
      if (!isMomClientError(error) || !error.retryable) throw error;
      ended = error;
    } finally {
      // Acks first: the server gives back what a closing stream holds, acked or not yet.
      await settler.flush().catch(() => {});
      streamAbort.abort();
      await chunks?.return?.().catch(() => {});
    }
    if (!ended.retryable) throw ended;
    failingSince ??= Date.now();
    if (Date.now() - failingSince > options.reconnectDeadlineMs) throw ended;
    try {
      await delay(backoffDelay(attempt++), options.signal);
    } catch {
      return;
    }
  }
}

function endedError(data: string): MomClientError {
  let code = 'bad_response';
  let message = `the server ended the stream: ${data.slice(0, 200)}`;
  try {
    const parsed = JSON.parse(data) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // not JSON: bad_response, as above
  }
  return new MomClientError(code, message, { retryable: RECONNECT_CODES.has(code) });
}
