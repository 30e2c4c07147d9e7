// The records that cross the rings between the network thread and a shard, and their byte
// layouts. Both threads import this file; nothing else defines a layout: every field has a named
// offset here, and each record has a writer and readers (plain functions over the ring bytes,
// no allocation, so the hot paths stay inlinable). All integers are little-endian. Hot records
// (publish, settle, deliver, confirm) are fixed layouts written straight into ring memory; rare
// control requests travel as msgpackr maps inside CONTROL. Over 600 lines because it is the one
// owner of every layout: splitting it would scatter what must stay in one place.
//
// A "message block" is how a message travels and how a shard stores it, unchanged:
//   u8 exchangeLength, exchange, u8 routingKeyLength, routingKey,
//   u32 propertiesLength, properties (flags word + fields, as on the wire), body (the rest)

import { copyBytes } from '../codec/index.js';

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

/** Set in a delivery's flags byte when it is a redelivery. */
export const DELIVER_FLAG_REDELIVERED = 1;
/** Set in a delivery's flags byte when it used a unit of channel credit. */
export const DELIVER_FLAG_USED_CREDIT = 2;

export const PUBLISH_FLAG_CONFIRM = 1;
export const PUBLISH_FLAG_PERSISTENT = 2;
/** The message has an expiration property (validated by the network thread). */
export const PUBLISH_FLAG_EXPIRATION = 4;

export const SETTLE_ACK = 0;
export const SETTLE_REQUEUE = 1;
export const SETTLE_DISCARD = 2;

// ---------------------------------------------------------------- layouts
// Offsets are relative to a record's payload start (`start`, or `at` for a writer). Writers
// return where the bytes they wrote end; readers take the payload start and read one field.

// The head shared by records addressed to a channel (publish, settle, credit, deliver, confirm,
// reject): u32 connectionId, u16 channelId. Connection flow has the connection id alone.
export const CONNECTION_ID_OFFSET = 0;
export const CHANNEL_ID_OFFSET = 4;

/** The connection a channel-addressed record (or a connection-flow record) is for. */
export function readConnectionId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + CONNECTION_ID_OFFSET);
}

/** The channel a channel-addressed record is for. */
export function readChannelId(bytes: Buffer, start: number): number {
  return bytes.readUInt16LE(start + CHANNEL_ID_OFFSET);
}

// CMD_PUBLISH
export const PUBLISH_FLAGS_OFFSET = 6;
export const PUBLISH_CONFIRM_SEQ_OFFSET = 7;
export const PUBLISH_QUEUE_COUNT_OFFSET = 15;
export const PUBLISH_HEADER_BYTES = 17;
export const PUBLISH_QUEUE_ID_BYTES = 4;

/**
 * A publish as its writer takes it: the record's fields and the message block's parts (`head`
 * holds the exchange and routing key as two shortstrs; the body is body[bodyStart..bodyEnd)).
 * Writers keep one and refill it per message, so nothing is allocated per publish.
 */
export class OutgoingPublish {
  connectionId = 0;
  channelId = 0;
  /** PUBLISH_FLAG_* bits. */
  flags = 0;
  confirmSeq = 0;
  head: Buffer = EMPTY_BUFFER;
  headBytes = 0;
  properties: Buffer = EMPTY_BUFFER;
  propertiesBytes = 0;
  body: Buffer = EMPTY_BUFFER;
  bodyStart = 0;
  bodyEnd = 0;

  /** The message block's parts (the record fields are set directly). */
  setMessage(
    head: Buffer,
    headBytes: number,
    properties: Buffer,
    propertiesBytes: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): this {
    this.head = head;
    this.headBytes = headBytes;
    this.properties = properties;
    this.propertiesBytes = propertiesBytes;
    this.body = body;
    this.bodyStart = bodyStart;
    this.bodyEnd = bodyEnd;
    return this;
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);

/** Bytes of the CMD_PUBLISH payload of `publish` to `queueCount` queues. */
export function publishRecordBytes(publish: OutgoingPublish, queueCount: number): number {
  return (
    PUBLISH_HEADER_BYTES +
    queueCount * PUBLISH_QUEUE_ID_BYTES +
    publish.headBytes +
    4 +
    publish.propertiesBytes +
    publish.bodyEnd -
    publish.bodyStart
  );
}

/**
 * Writes the CMD_PUBLISH payload of `publish` at `start`, for the queues
 * `queueIds[0..queueCount)`; returns where it ends.
 */
export function writePublishRecord(
  target: Buffer,
  start: number,
  publish: OutgoingPublish,
  queueIds: Uint32Array,
  queueCount: number,
): number {
  target.writeUInt32LE(publish.connectionId, start + CONNECTION_ID_OFFSET);
  target.writeUInt16LE(publish.channelId, start + CHANNEL_ID_OFFSET);
  target[start + PUBLISH_FLAGS_OFFSET] = publish.flags;
  target.writeDoubleLE(publish.confirmSeq, start + PUBLISH_CONFIRM_SEQ_OFFSET);
  target.writeUInt16LE(queueCount, start + PUBLISH_QUEUE_COUNT_OFFSET);
  let at = start + PUBLISH_HEADER_BYTES;
  for (let i = 0; i < queueCount; i++, at += PUBLISH_QUEUE_ID_BYTES)
    target.writeUInt32LE(queueIds[i]!, at);
  return writeMessageBlock(
    target,
    at,
    publish.head,
    publish.headBytes,
    publish.properties,
    publish.propertiesBytes,
    publish.body,
    publish.bodyStart,
    publish.bodyEnd,
  );
}

/** PUBLISH_FLAG_* of a CMD_PUBLISH payload. */
export function readPublishFlags(bytes: Buffer, start: number): number {
  return bytes[start + PUBLISH_FLAGS_OFFSET]!;
}

export function readPublishConfirmSeq(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start + PUBLISH_CONFIRM_SEQ_OFFSET);
}

export function readPublishQueueCount(bytes: Buffer, start: number): number {
  return bytes.readUInt16LE(start + PUBLISH_QUEUE_COUNT_OFFSET);
}

/** The `index`th queue id of a CMD_PUBLISH payload (index < its queue count). */
export function readPublishQueueId(bytes: Buffer, start: number, index: number): number {
  return bytes.readUInt32LE(start + PUBLISH_HEADER_BYTES + index * PUBLISH_QUEUE_ID_BYTES);
}

/** Where a CMD_PUBLISH payload's message block starts, after its `queueCount` queue ids. */
export function publishBlockStart(start: number, queueCount: number): number {
  return start + PUBLISH_HEADER_BYTES + queueCount * PUBLISH_QUEUE_ID_BYTES;
}

// CMD_SETTLE
export const SETTLE_ACTION_OFFSET = 6;
export const SETTLE_COUNT_OFFSET = 7;
export const SETTLE_HEADER_BYTES = 11;
export const SETTLE_DELIVERY_ID_BYTES = 8;

/** Bytes of a CMD_SETTLE payload for `count` deliveries. */
export function settleRecordBytes(count: number): number {
  return SETTLE_HEADER_BYTES + count * SETTLE_DELIVERY_ID_BYTES;
}

/** Writes a CMD_SETTLE payload at `start` for `deliveryIds[0..count)`; returns where it ends. */
export function writeSettleRecord(
  target: Buffer,
  start: number,
  connectionId: number,
  channelId: number,
  action: number,
  deliveryIds: Float64Array,
  count: number,
): number {
  target.writeUInt32LE(connectionId, start + CONNECTION_ID_OFFSET);
  target.writeUInt16LE(channelId, start + CHANNEL_ID_OFFSET);
  target[start + SETTLE_ACTION_OFFSET] = action;
  target.writeUInt32LE(count, start + SETTLE_COUNT_OFFSET);
  let at = start + SETTLE_HEADER_BYTES;
  for (let i = 0; i < count; i++, at += SETTLE_DELIVERY_ID_BYTES)
    target.writeDoubleLE(deliveryIds[i]!, at);
  return at;
}

/** SETTLE_* of a CMD_SETTLE payload. */
export function readSettleAction(bytes: Buffer, start: number): number {
  return bytes[start + SETTLE_ACTION_OFFSET]!;
}

export function readSettleCount(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + SETTLE_COUNT_OFFSET);
}

/** The `index`th delivery id of a CMD_SETTLE payload (index < its count). */
export function readSettleDeliveryId(bytes: Buffer, start: number, index: number): number {
  return bytes.readDoubleLE(start + SETTLE_HEADER_BYTES + index * SETTLE_DELIVERY_ID_BYTES);
}

// CMD_CONTROL: the request id, then the msgpackr payload up to the record's end.
export const CONTROL_REQUEST_ID_OFFSET = 0;
export const CONTROL_HEADER_BYTES = 4;

/** Writes a CMD_CONTROL header at `start`; returns where the msgpackr payload goes. */
export function writeControlHeader(target: Buffer, start: number, requestId: number): number {
  target.writeUInt32LE(requestId, start + CONTROL_REQUEST_ID_OFFSET);
  return start + CONTROL_HEADER_BYTES;
}

/** The request id of a CMD_CONTROL payload (0: no reply wanted). */
export function readControlRequestId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + CONTROL_REQUEST_ID_OFFSET);
}

/** Where a CMD_CONTROL payload's msgpackr request starts. */
export function controlRequestStart(start: number): number {
  return start + CONTROL_HEADER_BYTES;
}

// CMD_CONNECTION_FLOW
export const CONNECTION_FLOW_IS_PAUSED_OFFSET = 4;
export const CONNECTION_FLOW_BYTES = 5;

/** Writes a CMD_CONNECTION_FLOW payload at `start`; returns where it ends. */
export function writeConnectionFlowRecord(
  target: Buffer,
  start: number,
  connectionId: number,
  isPaused: boolean,
): number {
  target.writeUInt32LE(connectionId, start + CONNECTION_ID_OFFSET);
  target[start + CONNECTION_FLOW_IS_PAUSED_OFFSET] = isPaused ? 1 : 0;
  return start + CONNECTION_FLOW_BYTES;
}

export function readConnectionFlowIsPaused(bytes: Buffer, start: number): boolean {
  return bytes[start + CONNECTION_FLOW_IS_PAUSED_OFFSET] === 1;
}

// CMD_CREDIT and EVT_CREDIT share one layout.
export const CREDIT_AMOUNT_OFFSET = 6;
export const CREDIT_BYTES = 10;

/** Writes a CMD_CREDIT or EVT_CREDIT payload at `start`; returns where it ends. */
export function writeCreditRecord(
  target: Buffer,
  start: number,
  connectionId: number,
  channelId: number,
  amount: number,
): number {
  target.writeUInt32LE(connectionId, start + CONNECTION_ID_OFFSET);
  target.writeUInt16LE(channelId, start + CHANNEL_ID_OFFSET);
  target.writeUInt32LE(amount, start + CREDIT_AMOUNT_OFFSET);
  return start + CREDIT_BYTES;
}

export function readCreditAmount(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + CREDIT_AMOUNT_OFFSET);
}

// CMD_TRANSACTION: a header, then `count` nested records, each u8 type, u32 bytes, payload.
export const TRANSACTION_REQUEST_ID_OFFSET = 0;
export const TRANSACTION_COUNT_OFFSET = 4;
export const TRANSACTION_HEADER_BYTES = 8;
export const NESTED_TYPE_OFFSET = 0;
export const NESTED_BYTES_OFFSET = 1;
export const TRANSACTION_NESTED_HEADER_BYTES = 5;

/** Writes a CMD_TRANSACTION header at `start`; returns where its first nested record goes. */
export function writeTransactionHeader(
  target: Buffer,
  start: number,
  requestId: number,
  count: number,
): number {
  target.writeUInt32LE(requestId, start + TRANSACTION_REQUEST_ID_OFFSET);
  target.writeUInt32LE(count, start + TRANSACTION_COUNT_OFFSET);
  return start + TRANSACTION_HEADER_BYTES;
}

/**
 * Writes a nested record's header at `at` (its payload, `payloadBytes` long, follows); returns
 * where the payload goes.
 */
export function writeNestedHeader(
  target: Buffer,
  at: number,
  type: number,
  payloadBytes: number,
): number {
  target[at + NESTED_TYPE_OFFSET] = type;
  target.writeUInt32LE(payloadBytes, at + NESTED_BYTES_OFFSET);
  return at + TRANSACTION_NESTED_HEADER_BYTES;
}

export function readTransactionRequestId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + TRANSACTION_REQUEST_ID_OFFSET);
}

export function readTransactionCount(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + TRANSACTION_COUNT_OFFSET);
}

/** Where a CMD_TRANSACTION payload's first nested record starts. */
export function transactionFirstNested(start: number): number {
  return start + TRANSACTION_HEADER_BYTES;
}

/** The record type (CMD_PUBLISH or CMD_SETTLE) of the nested record at `at`. */
export function readNestedType(bytes: Buffer, at: number): number {
  return bytes[at + NESTED_TYPE_OFFSET]!;
}

/** Payload bytes of the nested record at `at`. */
export function readNestedBytes(bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at + NESTED_BYTES_OFFSET);
}

/** Where the payload of the nested record at `at` starts. */
export function nestedPayloadStart(at: number): number {
  return at + TRANSACTION_NESTED_HEADER_BYTES;
}

// EVT_DELIVER
export const DELIVER_CONSUMER_ID_OFFSET = 6;
export const DELIVER_DELIVERY_ID_OFFSET = 10;
export const DELIVER_FLAGS_OFFSET = 18;
export const DELIVER_HEADER_BYTES = 19;

/** Writes an EVT_DELIVER header at `start`; returns where the message block goes. */
export function writeDeliverHeader(
  target: Buffer,
  start: number,
  connectionId: number,
  channelId: number,
  consumerId: number,
  deliveryId: number,
  flags: number,
): number {
  target.writeUInt32LE(connectionId, start + CONNECTION_ID_OFFSET);
  target.writeUInt16LE(channelId, start + CHANNEL_ID_OFFSET);
  target.writeUInt32LE(consumerId, start + DELIVER_CONSUMER_ID_OFFSET);
  target.writeDoubleLE(deliveryId, start + DELIVER_DELIVERY_ID_OFFSET);
  target[start + DELIVER_FLAGS_OFFSET] = flags;
  return start + DELIVER_HEADER_BYTES;
}

export function readDeliverConsumerId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + DELIVER_CONSUMER_ID_OFFSET);
}

export function readDeliverDeliveryId(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start + DELIVER_DELIVERY_ID_OFFSET);
}

/** DELIVER_FLAG_* of an EVT_DELIVER payload. */
export function readDeliverFlags(bytes: Buffer, start: number): number {
  return bytes[start + DELIVER_FLAGS_OFFSET]!;
}

/** Where an EVT_DELIVER payload's message block starts. */
export function deliverBlockStart(start: number): number {
  return start + DELIVER_HEADER_BYTES;
}

// EVT_GET_OK
export const GET_OK_REQUEST_ID_OFFSET = 0;
export const GET_OK_DELIVERY_ID_OFFSET = 4;
export const GET_OK_IS_REDELIVERED_OFFSET = 12;
export const GET_OK_MESSAGE_COUNT_OFFSET = 13;
export const GET_OK_HEADER_BYTES = 17;

/** Writes an EVT_GET_OK header at `start`; returns where the message block goes. */
export function writeGetOkHeader(
  target: Buffer,
  start: number,
  requestId: number,
  deliveryId: number,
  isRedelivered: boolean,
  messageCount: number,
): number {
  target.writeUInt32LE(requestId, start + GET_OK_REQUEST_ID_OFFSET);
  target.writeDoubleLE(deliveryId, start + GET_OK_DELIVERY_ID_OFFSET);
  target[start + GET_OK_IS_REDELIVERED_OFFSET] = isRedelivered ? 1 : 0;
  target.writeUInt32LE(messageCount, start + GET_OK_MESSAGE_COUNT_OFFSET);
  return start + GET_OK_HEADER_BYTES;
}

export function readGetOkRequestId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + GET_OK_REQUEST_ID_OFFSET);
}

export function readGetOkDeliveryId(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start + GET_OK_DELIVERY_ID_OFFSET);
}

export function readGetOkIsRedelivered(bytes: Buffer, start: number): boolean {
  return bytes[start + GET_OK_IS_REDELIVERED_OFFSET] === 1;
}

/** Ready messages left in the queue after this one. */
export function readGetOkMessageCount(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + GET_OK_MESSAGE_COUNT_OFFSET);
}

/** Where an EVT_GET_OK payload's message block starts. */
export function getOkBlockStart(start: number): number {
  return start + GET_OK_HEADER_BYTES;
}

// EVT_CONFIRM and EVT_REJECT share one layout.
export const CONFIRM_SEQ_OFFSET = 6;
export const CONFIRM_BYTES = 14;
export const REJECT_BYTES = CONFIRM_BYTES;

/** Writes an EVT_CONFIRM (or EVT_REJECT) payload at `start`; returns where it ends. */
export function writeConfirmRecord(
  target: Buffer,
  start: number,
  connectionId: number,
  channelId: number,
  confirmSeq: number,
): number {
  target.writeUInt32LE(connectionId, start + CONNECTION_ID_OFFSET);
  target.writeUInt16LE(channelId, start + CHANNEL_ID_OFFSET);
  target.writeDoubleLE(confirmSeq, start + CONFIRM_SEQ_OFFSET);
  return start + CONFIRM_BYTES;
}

/** The sequence number of an EVT_CONFIRM or EVT_REJECT payload. */
export function readConfirmSeq(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start + CONFIRM_SEQ_OFFSET);
}

// EVT_REPLY: a header, then utf8 reply text up to the record's end.
export const REPLY_REQUEST_ID_OFFSET = 0;
export const REPLY_CODE_OFFSET = 4;
export const REPLY_VALUE_OFFSET = 6;
export const REPLY_HEADER_BYTES = 14;

/** Writes an EVT_REPLY header at `start`; returns where the reply text goes. */
export function writeReplyHeader(
  target: Buffer,
  start: number,
  requestId: number,
  replyCode: number,
  value: number,
): number {
  target.writeUInt32LE(requestId, start + REPLY_REQUEST_ID_OFFSET);
  target.writeUInt16LE(replyCode, start + REPLY_CODE_OFFSET);
  target.writeDoubleLE(value, start + REPLY_VALUE_OFFSET);
  return start + REPLY_HEADER_BYTES;
}

export function readReplyRequestId(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + REPLY_REQUEST_ID_OFFSET);
}

/** 0 for success, else an AMQP reply code. */
export function readReplyCode(bytes: Buffer, start: number): number {
  return bytes.readUInt16LE(start + REPLY_CODE_OFFSET);
}

export function readReplyValue(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start + REPLY_VALUE_OFFSET);
}

/** The reply text of an EVT_REPLY payload in `bytes[start..end)` (control plane: a string). */
export function readReplyText(bytes: Buffer, start: number, end: number): string {
  const textStart = start + REPLY_HEADER_BYTES;
  return end > textStart ? bytes.toString('utf8', textStart, end) : '';
}

// EVT_DEAD_LETTER: a header, the vhost, then the message block.
export const DEAD_LETTER_REASON_OFFSET = 0;
export const DEAD_LETTER_FLAGS_OFFSET = 1;
export const DEAD_LETTER_VHOST_LENGTH_OFFSET = 2;
export const DEAD_LETTER_HEADER_BYTES = 3;

/**
 * Writes an EVT_DEAD_LETTER header and vhost at `start` (`vhostBytes` is its utf8 length, at
 * most 255); returns where the message block goes.
 */
export function writeDeadLetterHeader(
  target: Buffer,
  start: number,
  reason: number,
  flags: number,
  vhost: string,
  vhostBytes: number,
): number {
  target[start + DEAD_LETTER_REASON_OFFSET] = reason;
  target[start + DEAD_LETTER_FLAGS_OFFSET] = flags;
  target[start + DEAD_LETTER_VHOST_LENGTH_OFFSET] = vhostBytes;
  target.write(vhost, start + DEAD_LETTER_HEADER_BYTES, 'utf8');
  return start + DEAD_LETTER_HEADER_BYTES + vhostBytes;
}

/** DEAD_LETTER_* of an EVT_DEAD_LETTER payload. */
export function readDeadLetterReason(bytes: Buffer, start: number): number {
  return bytes[start + DEAD_LETTER_REASON_OFFSET]!;
}

/** PUBLISH_FLAG_* (persistent or not) of an EVT_DEAD_LETTER payload. */
export function readDeadLetterFlags(bytes: Buffer, start: number): number {
  return bytes[start + DEAD_LETTER_FLAGS_OFFSET]!;
}

/** Where an EVT_DEAD_LETTER payload's vhost starts (it ends at deadLetterBlockStart). */
export function deadLetterVhostStart(start: number): number {
  return start + DEAD_LETTER_HEADER_BYTES;
}

/** Where an EVT_DEAD_LETTER payload's message block starts, after its vhost. */
export function deadLetterBlockStart(bytes: Buffer, start: number): number {
  return start + DEAD_LETTER_HEADER_BYTES + bytes[start + DEAD_LETTER_VHOST_LENGTH_OFFSET]!;
}

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

/**
 * Writes a message block at `at`; returns where it ends. `head` holds the exchange and routing
 * key as two shortstrs (headBytes of them); the body is `body[bodyStart..bodyEnd)`.
 */
export function writeMessageBlock(
  target: Buffer,
  at: number,
  head: Buffer,
  headBytes: number,
  properties: Buffer,
  propertiesBytes: number,
  body: Buffer,
  bodyStart: number,
  bodyEnd: number,
): number {
  at += copyBytes(head, target, at, 0, headBytes);
  target.writeUInt32LE(propertiesBytes, at);
  at += 4;
  at += copyBytes(properties, target, at, 0, propertiesBytes);
  return at + copyBytes(body, target, at, bodyStart, bodyEnd);
}

/** Offsets of a message block's parts; filled in place by MessageBlockView.read, no allocation. */
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
  /** The shard thread's V8 heap: bytes in use, reserved, and held outside it (Buffers). */
  heap: { usedBytes: number; totalBytes: number; externalBytes: number };
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
