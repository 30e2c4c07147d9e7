// The records that cross the rings between the network thread and a shard, and their byte
// layouts. Both threads import this file; nothing else defines a layout. All integers are
// little-endian. Hot records (publish, settle, deliver, confirm) are fixed layouts written
// straight into ring memory; rare control requests travel as msgpackr maps inside CONTROL.
//
// A "message block" is how a message travels and how a shard stores it, unchanged:
//   u8 exchangeLength, exchange, u8 routingKeyLength, routingKey,
//   u32 propertiesLength, properties (flags word + fields, as on the wire), body (the rest)

// Commands: network thread -> shard.
/** u32 connectionId, u16 channelId, u8 flags, f64 confirmSeq, u16 queueCount, u32 queueId[], message block */
export const CMD_PUBLISH = 1;
/** u32 connectionId, u16 channelId, u8 action (SETTLE_*), u32 count, f64 deliveryId[] */
export const CMD_SETTLE = 2;
/** u32 requestId, msgpackr ControlRequest */
export const CMD_CONTROL = 3;
/** u32 connectionId, u8 isPaused: the connection's socket is congested, hold its deliveries */
export const CMD_CONNECTION_FLOW = 4;
/** u32 connectionId, u16 channelId, u32 amount: credit for the channel's global prefetch */
export const CMD_CREDIT = 5;
/**
 * u32 requestId, u32 count, count × (u8 type, u32 bytes, payload): a committed transaction's
 * CMD_PUBLISH and CMD_SETTLE records for this shard, applied and logged together; answered
 * with EVT_REPLY once durable.
 */
export const CMD_TRANSACTION = 6;

// Events: shard -> network thread.
/** u32 connectionId, u16 channelId, u32 consumerId, f64 deliveryId, u8 flags (DELIVER_FLAG_*), message block */
export const EVT_DELIVER = 1;
/** u32 requestId, f64 deliveryId, u8 isRedelivered, u32 messageCount, message block */
export const EVT_GET_OK = 2;
/** u32 connectionId, u16 channelId, f64 confirmSeq: every publish up to seq from that channel is settled */
export const EVT_CONFIRM = 3;
/** u32 requestId, u16 replyCode (0 = ok), f64 value, utf8 replyText (the rest) */
export const EVT_REPLY = 4;
/** u32 connectionId, u16 channelId, u32 amount: 0 asks for credit, more gives unused credit back */
export const EVT_CREDIT = 5;
/**
 * u8 reason (DEAD_LETTER_*), u8 flags (PUBLISH_FLAG_PERSISTENT), u8 vhostLength, vhost, message
 * block: a dead-lettered message, already carrying its new x-death headers, with the dead-letter
 * exchange and routing key in its block. The network thread routes it like a publish without
 * confirms (see README, dead-lettering).
 */
export const EVT_DEAD_LETTER = 6;
/**
 * u32 connectionId, u16 channelId, f64 confirmSeq: a queue refused that publish (x-overflow
 * reject-publish or reject-publish-dlx); its confirm becomes a basic.nack. Sent before the
 * EVT_CONFIRM that covers the same sequence number.
 */
export const EVT_REJECT = 7;

/** Why a message was dead-lettered; the x-death `reason` texts, in this order. */
export const DEAD_LETTER_REJECTED = 0;
export const DEAD_LETTER_EXPIRED = 1;
export const DEAD_LETTER_MAXLEN = 2;
/** Returned more often than x-warren-delivery-limit allows (the quorum queues' reason text). */
export const DEAD_LETTER_DELIVERY_LIMIT = 3;
export const DEAD_LETTER_REASONS = ['rejected', 'expired', 'maxlen', 'delivery_limit'] as const;
export const DEAD_LETTER_HEADER_BYTES = 3;
export const REJECT_BYTES = 4 + 2 + 8;

/** Set in a delivery's flags byte when it is a redelivery. */
export const DELIVER_FLAG_REDELIVERED = 1;
/** Set in a delivery's flags byte when it used a unit of channel credit. */
export const DELIVER_FLAG_USED_CREDIT = 2;
export const CREDIT_BYTES = 4 + 2 + 4;

export const PUBLISH_HEADER_BYTES = 4 + 2 + 1 + 8 + 2;
export const PUBLISH_FLAG_CONFIRM = 1;
export const PUBLISH_FLAG_PERSISTENT = 2;
/** The message has an expiration property (validated by the network thread). */
export const PUBLISH_FLAG_EXPIRATION = 4;

export const SETTLE_ACK = 0;
export const SETTLE_REQUEUE = 1;
export const SETTLE_DISCARD = 2;
export const SETTLE_HEADER_BYTES = 4 + 2 + 1 + 4;

export const DELIVER_HEADER_BYTES = 4 + 2 + 4 + 8 + 1;
export const GET_OK_HEADER_BYTES = 4 + 8 + 1 + 4;
export const CONFIRM_BYTES = 4 + 2 + 8;
export const REPLY_HEADER_BYTES = 4 + 2 + 8;

/** A queue as the shard needs to know it. */
export interface QueueSpec {
  queueId: number;
  vhost: string;
  name: string;
  isDurable: boolean;
  isAutoDelete: boolean;
  isExclusive: boolean;
  arguments: Record<string, unknown>;
}

/** Rare requests from the network thread; each is answered by one EVT_REPLY (or EVT_GET_OK). */
export type ControlRequest =
  | { op: 'queue.create'; queue: QueueSpec }
  | { op: 'queue.delete'; queueId: number; isIfEmpty: boolean; isIfUnused: boolean }
  | { op: 'queue.purge'; queueId: number }
  /** A policy changed what applies to the queue: these are its effective arguments now. */
  | { op: 'queue.arguments'; queueId: number; arguments: Record<string, unknown> }
  | { op: 'queue.stats'; queueId: number }
  | {
      op: 'consume';
      queueId: number;
      consumerId: number;
      connectionId: number;
      channelId: number;
      prefetchCount: number;
      isNoAck: boolean;
      isChannelCreditLimited: boolean;
      /** x-priority from basic.consume's arguments; 0 when absent. */
      priority: number;
    }
  | { op: 'cancel'; consumerId: number }
  | { op: 'get'; queueId: number; connectionId: number; channelId: number; isNoAck: boolean }
  /** The channel has (or no longer has) a channel-wide prefetch, paid for with credit. */
  | { op: 'channel.qos'; connectionId: number; channelId: number; isCreditLimited: boolean }
  | { op: 'channel.close'; connectionId: number; channelId: number }
  | { op: 'channel.recover'; connectionId: number; channelId: number }
  | { op: 'barrier' }
  /** Every durable queue is created: drop recovered messages of queues that are gone. */
  | { op: 'recovery.done' }
  /** Keep a durable definition (value null deletes it); answered once durable. */
  | { op: 'definition.put'; record: { kind: string; key: string; value: unknown } };

/** Channels are keyed by one number in maps on both sides. */
export function channelKey(connectionId: number, channelId: number): number {
  return connectionId * 0x10000 + channelId;
}

/** Bytes a message block needs for the given parts. */
export function messageBlockBytes(
  exchangeBytes: number,
  routingKeyBytes: number,
  propertiesBytes: number,
  bodyBytes: number,
): number {
  return 1 + exchangeBytes + 1 + routingKeyBytes + 4 + propertiesBytes + bodyBytes;
}

/** Offsets of a message block's parts; filled in place by readMessageBlock to avoid allocation. */
export class MessageBlockView {
  exchangeStart = 0;
  exchangeEnd = 0;
  routingKeyStart = 0;
  routingKeyEnd = 0;
  propertiesStart = 0;
  propertiesEnd = 0;
  bodyStart = 0;
  bodyEnd = 0;

  /** Parses the block in `bytes[start..end)`. The layout is ours, so lengths are trusted. */
  read(bytes: Buffer, start: number, end: number): this {
    let at = start;
    const exchangeLength = bytes[at]!;
    this.exchangeStart = at + 1;
    this.exchangeEnd = this.exchangeStart + exchangeLength;
    at = this.exchangeEnd;
    const routingKeyLength = bytes[at]!;
    this.routingKeyStart = at + 1;
    this.routingKeyEnd = this.routingKeyStart + routingKeyLength;
    at = this.routingKeyEnd;
    const propertiesLength = bytes.readUInt32LE(at);
    this.propertiesStart = at + 4;
    this.propertiesEnd = this.propertiesStart + propertiesLength;
    this.bodyStart = this.propertiesEnd;
    this.bodyEnd = end;
    return this;
  }
}

/** One queue's sampled counters (totals since the queue was created in this shard). */
export interface QueueStats {
  queueId: number;
  ready: number;
  unacked: number;
  consumers: number;
  published: number;
  delivered: number;
  acked: number;
  /** Estimated memory of its messages: its share of the blocks in memory plus per-copy overhead. */
  memoryBytes: number;
}

/** What a shard reports when asked (over postMessage: the control plane). */
export interface ShardStats {
  shardIndex: number;
  queues: QueueStats[];
  bodyBytesInMemory: number;
  pendingConfirms: number;
  log: {
    appendSeq: number;
    durableSeq: number;
    syncCycles: number;
    syncMsTotal: number;
    syncMsMax: number;
    /** Upper bounds (ms) of the cycle duration buckets; counts has one more (beyond the last). */
    syncMsBucketBounds: readonly number[];
    syncMsBucketCounts: number[];
    bytesWritten: number;
    segments: number;
    totalBytes: number;
  } | null;
}
