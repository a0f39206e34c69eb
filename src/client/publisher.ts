/**
 * Publishing to one queue or topic: serializes each message once, hands it to the
 * PublishBatcher, and sends batches as `POST …/messages {"messages":[…]}` (DESIGN §8).
 */
import type { ApiRequest, ClientContext } from './context';
import { MomClientError } from './errors';
import { PublishBatcher, type PublishBatch } from './publish-batcher';
import type { Headers, WirePublishMessage, WirePublishResponse } from './types';

export interface PublishOptions {
  headers?: Headers;
  /** Producer id: makes retries idempotent (the server stores it once per dedup window). */
  id?: string;
}

export class Publisher {
  private readonly context: ClientContext;
  private readonly messagesPath: string;
  private readonly batcher: PublishBatcher;
  private readonly maxMessages: number;
  private readonly maxBytes: number;

  constructor(context: ClientContext, messagesPath: string) {
    this.context = context;
    this.messagesPath = messagesPath;
    const settings = context.publishSettings;
    this.maxMessages = settings.maxBatchMessages;
    this.maxBytes = settings.maxBatchBytes;
    this.batcher = new PublishBatcher({
      send: (batch) => this.send(batch),
      maxMessages: settings.maxBatchMessages,
      maxBytes: settings.maxBatchBytes,
      maxInFlight: settings.maxRequestsInFlight,
    });
  }

  /** Resolves the message id; concurrent calls share requests. */
  publish(payload: unknown, options?: PublishOptions): Promise<string> {
    try {
      this.context.assertOpen();
      const json = serialize(payload, options?.headers, options?.id);
      return this.batcher.add(json, options?.id !== undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Publishes many messages in as few requests as the limits allow; resolves their ids in order. */
  async publishBatch(messages: readonly WirePublishMessage[]): Promise<string[]> {
    this.context.assertOpen();
    if (!Array.isArray(messages)) throw new MomClientError('invalid_argument', 'publishBatch: expected an array of {payload, headers?, id?}');
    const jsons: string[] = new Array<string>(messages.length);
    const hasIds: boolean[] = new Array<boolean>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      if (typeof message !== 'object' || message === null) {
        throw new MomClientError('invalid_argument', `publishBatch: message ${i} is not an object {payload, headers?, id?}`);
      }
      jsons[i] = serialize(message.payload, message.headers, message.id, i);
      hasIds[i] = message.id !== undefined;
    }
    const groups: Array<Promise<string[]>> = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < jsons.length; i++) {
      const size = Buffer.byteLength(jsons[i]!) + 1;
      if (i > start && (i - start >= this.maxMessages || bytes + size > this.maxBytes)) {
        groups.push(this.batcher.addGroup(jsons.slice(start, i), hasIds.slice(start, i)));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < jsons.length) groups.push(this.batcher.addGroup(jsons.slice(start), hasIds.slice(start)));
    const ids = await Promise.all(groups);
    return ids.length === 1 ? ids[0]! : ids.flat();
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  private async send(batch: PublishBatch): Promise<string[]> {
    const request: ApiRequest = {
      method: 'POST',
      path: this.messagesPath,
      query: this.context.publishSettings.acks === 'all' ? undefined : { acks: this.context.publishSettings.acks },
      body: batch.body,
      idempotent: batch.idempotent,
    };
    const response = await this.context.request<WirePublishResponse>(request);
    const ids = response.body?.ids;
    if (!Array.isArray(ids)) throw new MomClientError('bad_response', `publish answered ${response.status} without "ids"`, { status: response.status });
    return ids;
  }
}

/** One message as request JSON, built by hand so the payload is stringified exactly once. */
function serialize(payload: unknown, headers: Headers | undefined, id: string | undefined, index?: number): string {
  const where = index === undefined ? 'publish' : `publishBatch: message ${index}`;
  let payloadJson: string | undefined;
  try {
    payloadJson = JSON.stringify(payload);
  } catch (error) {
    throw new MomClientError('invalid_argument', `${where}: payload is not JSON-serializable: ${(error as Error).message}`, { cause: error });
  }
  if (payloadJson === undefined) throw new MomClientError('invalid_argument', `${where}: payload must be a JSON value, got ${typeof payload}`);
  let json = `{"payload":${payloadJson}`;
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
      throw new MomClientError('invalid_argument', `${where}: headers must be an object of strings`);
    }
    json += `,"headers":${JSON.stringify(headers)}`;
  }
  if (id !== undefined) {
    if (typeof id !== 'string' || id === '') throw new MomClientError('invalid_argument', `${where}: id must be a non-empty string`);
    json += `,"id":${JSON.stringify(id)}`;
  }
  return json + '}';
}
