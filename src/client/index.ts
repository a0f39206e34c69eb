/**
 * mombroker's TypeScript SDK (`mombroker/client`). Imports no server code.
 *
 *   const conn = await connect({ url, user, password });
 *   const orders = conn.queue('shop', 'orders');
 *   await orders.publish({ sku: 42 });
 *   for await (const msg of orders.consume()) { ...; await msg.ack(); }
 *   await conn.close();
 */
export { connect, Connection, type ConnectOptions, type ConnectionStats } from './connection';
export type { TrustedCa } from './http-transport';
export type { ApiRequest, ApiResponse } from './context';
export { CLIENT_ERROR_CODES, isMomClientError, MomClientError, type ClientErrorCode } from './errors';
export type { ConsumeOptions, DeadLettersOptions, PullOptions } from './consumer';
export { Message, type NackOptions } from './message';
export type { PublishOptions } from './publisher';
export { Queue } from './queue';
export { Subscription } from './subscription';
export { Topic } from './topic';
export type {
  AckResult,
  DeclareResult,
  ExchangeInfo,
  Headers,
  InboxCounts,
  JsonValue,
  NackResult,
  QueueOptions,
  QueueListing,
  QueueStats,
  SubscriptionListing,
  SubscriptionOptions,
  SubscriptionStart,
  TopicListing,
  TopicOptions,
  WireDeadLetter,
  WireMessage,
  WirePublishMessage,
} from './types';
