// One AMQP channel on the network thread: it assembles publishes from method, header and body
// frames and routes them to shards, tracks publisher confirms and delivery tags, holds
// transactions, and turns every other basic/queue/exchange/confirm/tx method into topology
// changes or shard requests. Protocol errors thrown anywhere below its frame handler are caught
// by the connection's channel dispatcher, which closes this channel (or the connection).

import { randomBytes } from 'node:crypto';
import {
  type AmqpMethod,
  copyBytes,
  ByteWriter,
  decodeContentHeader,
  decodeMethod,
  decodeProperties,
  encodeProperties,
  PROPERTY_FLAG_EXPIRATION,
  PROPERTY_FLAG_REPLY_TO,
  readDeliveryMode,
  readExpiration,
  readReplyTo,
  validateProperties,
} from '../codec/index.js';
import {
  CMD_PUBLISH,
  CMD_SETTLE,
  MessageBlockView,
  SETTLE_HEADER_BYTES,
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_EXPIRATION,
  PUBLISH_FLAG_PERSISTENT,
  SETTLE_ACK,
  SETTLE_DISCARD,
  SETTLE_REQUEUE,
} from '../shard/api.js';
import { ConfirmTracker } from './confirm-tracker.js';
import type { Connection } from './connection.js';
import type { ChannelForReplies } from './broker.js';
import {
  writeAccessRequestOk,
  writeBasicDeliver,
  writeBasicGetOk,
  writeBasicReturn,
  writeContent,
} from './content-frames.js';
import { DeliveryTagTable, type SettledDeliverySink } from './delivery-tags.js';
import { type ConsumerRecord, isExchangeType, type QueueRecord } from './exchange.js';
import { channelError, connectionError, resourceName } from './protocol-errors.js';
import {
  publishRecordBytes,
  type ReplyHandler,
  writePublishRecord,
  writeSettleRecord,
} from './shard-link.js';
import type { VirtualHost } from './vhost.js';

const CLASS_BASIC = 60;
const METHOD_BASIC_PUBLISH = 40;
const METHOD_BASIC_ACK = 80;
const ACCESS_REQUEST = (30 << 16) | 10;

const NO_ROUTE = 312;
const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const RESOURCE_LOCKED = 405;
const PRECONDITION_FAILED = 406;
const COMMAND_INVALID = 503;
const UNEXPECTED_FRAME = 505;
const NOT_ALLOWED = 530;
const NOT_IMPLEMENTED = 540;

/** What the channel expects next from the client on this channel. */
const enum ContentState {
  Method,
  Header,
  Body,
}

/** A publish held by an open transaction until tx.commit. */
interface HeldPublish {
  queues: QueueRecord[];
  isMandatory: boolean;
  /** PUBLISH_FLAG_PERSISTENT and PUBLISH_FLAG_EXPIRATION as they apply. */
  flags: number;
  head: Buffer;
  properties: Buffer;
  body: Buffer;
}

/** A settle held by an open transaction until tx.commit. */
interface HeldSettle {
  action: number;
  shardIndex: number;
  deliveryId: number;
  tag: number;
  isLimited: boolean;
}

/** The consumer tags of this channel: tag -> record, and the tag as bytes for deliveries. */
export interface ChannelConsumer extends ConsumerRecord {
  channel: Channel;
  tagBytes: Buffer;
}

/**
 * The queue ids of one publish for one shard, grown to the widest fanout seen. The network
 * thread is single-threaded and a publish is written before the next one starts, so one array
 * serves every channel.
 */
let queueIdScratch = new Uint32Array(1024);

function queueIdScratchFor(queueCount: number): Uint32Array {
  if (queueIdScratch.length < queueCount) {
    queueIdScratch = new Uint32Array(Math.max(queueCount, queueIdScratch.length * 2));
  }
  return queueIdScratch;
}

/** The direct reply-to pseudo-queue, and the prefix of the names it gives reply-to. */
const REPLY_QUEUE = 'amq.rabbitmq.reply-to';
const REPLY_PREFIX = 'amq.rabbitmq.reply-to.';

export class Channel implements SettledDeliverySink, ChannelForReplies {
  readonly channelId: number;
  readonly connection: Connection;
  readonly vhost: VirtualHost;
  /** Class id << 16 | method id of the method being handled, to stamp errors with. */
  methodKey = 0;
  /** Set when either side has sent channel.close; frames are then dropped until close-ok. */
  isClosing = false;
  isClosed = false;

  private contentState = ContentState.Method;
  // The publish being assembled: [u8 len][exchange][u8 len][routing key] in `head`.
  private readonly head = Buffer.allocUnsafe(2 + 255 + 255);
  private headBytes = 0;
  private exchangeName = '';
  private routingKey = '';
  private isMandatory = false;
  private properties = Buffer.allocUnsafe(256);
  private propertiesBytes = 0;
  private bodyBytesExpected = 0;
  private bodyBytesReceived = 0;
  private body: Buffer = Buffer.alloc(0);

  private isConfirmMode = false;
  private confirms: ConfirmTracker | null = null;
  // Counters sampled by management (plain increments; nothing is sent per message).
  publishedCount = 0;
  confirmedCount = 0;
  deliveredCount = 0;
  ackedCount = 0;

  /** Publishes in confirm mode not yet confirmed. */
  get unconfirmedCount(): number {
    return this.confirms?.outstanding ?? 0;
  }
  private isTransactional = false;
  private heldPublishes: HeldPublish[] = [];
  private heldSettles: HeldSettle[] = [];
  private heldBytes = 0;

  readonly deliveryTags = new DeliveryTagTable();
  readonly consumers = new Map<string, ChannelConsumer>();
  /** basic.qos global=false: the prefetch given to consumers created from now on. */
  private consumerPrefetch = 0;
  /** basic.qos global=true: one limit for all this channel's consumers; 0 = none. */
  private globalPrefetch = 0;
  /** Credit each shard holds for the channel-wide prefetch. */
  private readonly creditGranted: Int32Array;
  /** Shards waiting for credit (bit per shard). */
  private creditRequests = 0;
  /** Unacked deliveries to consumers in ack mode: what the channel-wide prefetch counts. */
  private limitedUnacked = 0;
  /** Shards this channel has consumed from or fetched from (bit per shard). */
  private touchedShards = 0;
  private lastDeclaredQueue = '';
  // Per-shard scratch for batching settles into one record per shard.
  private readonly settleIds: Float64Array[];
  private readonly settleCounts: Int32Array;
  private settleAction = SETTLE_ACK;
  private permissionVersion = -1;
  private readonly writableExchanges = new Set<string>();
  private readonly view = new MessageBlockView();
  /** Direct reply-to: the amq.rabbitmq.reply-to consumer's tag, or null. */
  private replyConsumerTag: Buffer | null = null;
  /** The key in this channel's reply-to names (broker.replyChannels), '' until it consumes. */
  private replyKey = '';
  /** The oldest unacked tag the consumer-timeout check saw, and since when. */
  private watchedTag = 0;
  private watchedSinceMs = 0;

  constructor(connection: Connection, channelId: number, vhost: VirtualHost) {
    this.connection = connection;
    this.channelId = channelId;
    this.vhost = vhost;
    const shardCount = connection.broker.links.length;
    // Small to start: most channels settle a few at a time; busy ones grow it once.
    this.settleIds = Array.from({ length: shardCount }, () => new Float64Array(16));
    this.settleCounts = new Int32Array(shardCount);
    this.creditGranted = new Int32Array(shardCount);
  }

  /** For management listings: the per-consumer prefetch (basic.qos global=false). */
  get prefetchCount(): number {
    return this.consumerPrefetch;
  }

  /** For management listings: the channel-wide prefetch (basic.qos global=true). */
  get globalPrefetchCount(): number {
    return this.globalPrefetch;
  }

  get isInConfirmMode(): boolean {
    return this.isConfirmMode;
  }

  get isInTransaction(): boolean {
    return this.isTransactional;
  }

  /** Publishes held until tx.commit. */
  get uncommittedCount(): number {
    return this.heldPublishes.length;
  }

  // ---------------------------------------------------------------- frames

  /** A method frame for this channel. Hot path for basic.publish and basic.ack. */
  onMethodFrame(bytes: Buffer, start: number, end: number): void {
    if (this.contentState !== ContentState.Method) {
      throw connectionError(
        UNEXPECTED_FRAME,
        `expected content ${this.contentState === ContentState.Header ? 'header' : 'body'} for class 60, got non content header frame instead`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    if (end - start >= 4) {
      // Remembered so errors name the method that failed, as RabbitMQ's do.
      this.methodKey = bytes.readUInt32BE(start);
      if (this.methodKey >>> 16 === CLASS_BASIC) {
        const methodId = this.methodKey & 0xffff;
        if (methodId === METHOD_BASIC_PUBLISH) {
          const connection = this.connection;
          if (connection.broker.isPublishBlocked) {
            connection.blockForAlarm(connection.broker.alarmReasonText);
          }
          if (this.beginPublish(bytes, start + 4, end)) return;
        }
        if (methodId === METHOD_BASIC_ACK && end - start === 13) {
          const deliveryTag =
            bytes.readUInt32BE(start + 4) * 0x1_0000_0000 + bytes.readUInt32BE(start + 8);
          this.ack(deliveryTag, (bytes[start + 12]! & 1) === 1);
          return;
        }
      } else if (this.methodKey === ACCESS_REQUEST) {
        // access.request, gone from 0-9-1 but still sent by old clients: RabbitMQ grants ticket 1.
        writeAccessRequestOk(this.connection.out, this.channelId);
        this.connection.markDirty();
        return;
      }
    }
    this.onMethod(decodeMethod(bytes, start, end));
  }

  onHeaderFrame(bytes: Buffer, start: number, end: number): void {
    if (this.contentState !== ContentState.Header) {
      throw connectionError(
        UNEXPECTED_FRAME,
        'unexpected content header frame',
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const header = decodeContentHeader(bytes, start, end);
    // Properties travel to consumers byte for byte, so they must be well-formed before we keep them.
    validateProperties(bytes, header.propertiesStart, end);
    if (header.classId !== CLASS_BASIC) {
      throw connectionError(
        UNEXPECTED_FRAME,
        `content header for class ${header.classId} does not match method class 60`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const messageMaxBytes = this.connection.broker.options.messageMaxBytes;
    if (header.bodySize > messageMaxBytes) {
      this.contentState = ContentState.Method;
      throw channelError(
        PRECONDITION_FAILED,
        `message size ${header.bodySize} is larger than configured max size ${messageMaxBytes}`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const propertiesBytes = end - header.propertiesStart;
    if (propertiesBytes > this.properties.length) {
      this.properties = Buffer.allocUnsafe(Math.max(propertiesBytes, this.properties.length * 2));
    }
    copyBytes(bytes, this.properties, 0, header.propertiesStart, end);
    this.propertiesBytes = propertiesBytes;
    this.bodyBytesExpected = header.bodySize;
    this.bodyBytesReceived = 0;
    if (header.bodySize === 0) {
      this.contentState = ContentState.Method;
      this.completePublish(this.body, 0, 0);
      return;
    }
    this.contentState = ContentState.Body;
  }

  onBodyFrame(bytes: Buffer, start: number, end: number): void {
    if (this.contentState !== ContentState.Body) {
      throw connectionError(
        UNEXPECTED_FRAME,
        'unexpected content body frame',
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const frameBytes = end - start;
    const received = this.bodyBytesReceived + frameBytes;
    if (received > this.bodyBytesExpected) {
      throw connectionError(
        UNEXPECTED_FRAME,
        `content body exceeds the declared size ${this.bodyBytesExpected}`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    if (this.bodyBytesReceived === 0 && received === this.bodyBytesExpected) {
      // The common case: the whole body in one frame, routed straight from the read buffer.
      this.contentState = ContentState.Method;
      this.completePublish(bytes, start, end);
      return;
    }
    if (this.bodyBytesReceived === 0 && this.body.length < this.bodyBytesExpected) {
      this.body = Buffer.allocUnsafe(this.bodyBytesExpected);
    }
    copyBytes(bytes, this.body, this.bodyBytesReceived, start, end);
    this.bodyBytesReceived = received;
    if (received === this.bodyBytesExpected) {
      this.contentState = ContentState.Method;
      this.completePublish(this.body, 0, received);
      // A large one-off body should not stay pinned by an idle channel.
      if (this.body.length > 1 << 20) this.body = Buffer.alloc(0);
    }
  }

  // ---------------------------------------------------------------- publish

  /** Copies basic.publish's fields; returns false to let the generic decoder report errors. */
  private beginPublish(bytes: Buffer, start: number, end: number): boolean {
    // reserved short, exchange shortstr, routing-key shortstr, bits
    let at = start + 2;
    if (at >= end) return false;
    const exchangeLength = bytes[at]!;
    const exchangeStart = at + 1;
    at = exchangeStart + exchangeLength;
    if (at >= end) return false;
    const routingKeyLength = bytes[at]!;
    const routingKeyStart = at + 1;
    at = routingKeyStart + routingKeyLength;
    if (at + 1 !== end) return false;
    const bits = bytes[at]!;
    if ((bits & 2) !== 0) {
      throw connectionError(NOT_IMPLEMENTED, 'immediate=true', CLASS_BASIC, METHOD_BASIC_PUBLISH);
    }
    if (!this.isSameHead(bytes, start + 2, at)) {
      // A new exchange or routing key; a stream of publishes to the same ones (the usual case)
      // keeps the names decoded for the first, with no string made per message.
      this.headBytes = copyBytes(bytes, this.head, 0, start + 2, at);
      this.exchangeName =
        exchangeLength === 0
          ? ''
          : bytes.toString('utf8', exchangeStart, exchangeStart + exchangeLength);
      this.routingKey =
        routingKeyLength === 0
          ? ''
          : bytes.toString('utf8', routingKeyStart, routingKeyStart + routingKeyLength);
    }
    this.isMandatory = (bits & 1) !== 0;
    this.contentState = ContentState.Header;
    return true;
  }

  /** Whether bytes[start, end) are the exchange and routing key of the last publish. */
  private isSameHead(bytes: Buffer, start: number, end: number): boolean {
    if (end - start !== this.headBytes) return false;
    const head = this.head;
    for (let i = 0; i < this.headBytes; i++) if (bytes[start + i] !== head[i]) return false;
    return true;
  }

  private completePublish(body: Buffer, bodyStart: number, bodyEnd: number): void {
    const broker = this.connection.broker;
    const exchange = this.vhost.exchanges.get(this.exchangeName);
    if (exchange === undefined) {
      throw channelError(
        NOT_FOUND,
        `no ${resourceName('exchange', this.exchangeName, this.vhost.name)}`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    if (exchange.isInternal) {
      throw channelError(
        ACCESS_REFUSED,
        `cannot publish to internal ${resourceName('exchange', exchange.name, this.vhost.name)}`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    this.checkWritable(exchange.name);
    this.publishedCount++;
    exchange.publishInCount++;
    if (
      this.propertiesBytes >= 2 &&
      (this.properties.readUInt16BE(0) & PROPERTY_FLAG_REPLY_TO) !== 0
    ) {
      this.rewriteReplyTo();
    }
    if (exchange.name === '' && this.routingKey.startsWith(REPLY_PREFIX)) {
      const target = broker.replyChannels.get(this.routingKey.slice(REPLY_PREFIX.length));
      if (target !== undefined) {
        target.deliverReply(this.replyBlock(body, bodyStart, bodyEnd));
        if (this.confirms !== null) {
          this.confirms.add(0);
          this.sendConfirms();
        }
        return;
      }
      // A reply to a channel that is gone is unroutable, as in RabbitMQ.
    }
    const properties = this.properties;
    const propertiesBytes = this.propertiesBytes;
    const isPersistent = readDeliveryMode(properties, 0, propertiesBytes) === 2;
    // One look at the flags word; the expiration itself is read only when present.
    const hasExpiration =
      propertiesBytes >= 2 && (properties.readUInt16BE(0) & PROPERTY_FLAG_EXPIRATION) !== 0;
    if (hasExpiration) checkExpiration(readExpiration(properties, 0, propertiesBytes) ?? '');
    const queues = broker.router.route(
      this.vhost,
      exchange,
      this.routingKey,
      properties,
      0,
      propertiesBytes,
    );
    exchange.publishOutCount += queues.length;
    const contentFlags =
      (isPersistent ? PUBLISH_FLAG_PERSISTENT : 0) | (hasExpiration ? PUBLISH_FLAG_EXPIRATION : 0);
    if (this.isTransactional) {
      this.holdPublish(queues, contentFlags, body, bodyStart, bodyEnd);
      return;
    }
    const confirms = this.confirms;
    if (queues.length === 0) {
      if (this.isMandatory)
        this.sendReturn(
          this.head,
          this.headBytes,
          properties,
          propertiesBytes,
          body,
          bodyStart,
          bodyEnd,
        );
      if (confirms !== null) {
        confirms.add(0);
        this.sendConfirms();
      }
      return;
    }
    const flags = (confirms !== null ? PUBLISH_FLAG_CONFIRM : 0) | contentFlags;
    const confirmSeq = confirms !== null ? confirms.add(this.shardMaskOf(queues)) : 0;
    this.sendToShards(
      queues,
      flags,
      confirmSeq,
      this.head,
      this.headBytes,
      properties,
      propertiesBytes,
      body,
      bodyStart,
      bodyEnd,
    );
  }

  /**
   * Direct reply-to: a publish whose reply-to is amq.rabbitmq.reply-to gets this channel's own
   * reply-to name instead, so replies come straight back to its reply consumer.
   */
  private rewriteReplyTo(): void {
    if (readReplyTo(this.properties, 0, this.propertiesBytes) !== REPLY_QUEUE) return;
    if (this.replyConsumerTag === null) {
      throw channelError(
        PRECONDITION_FAILED,
        'fast reply consumer does not exist',
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const decoded = decodeProperties(this.properties, 0, this.propertiesBytes, undefined, true);
    decoded.replyTo = REPLY_PREFIX + this.replyKey;
    const writer = new ByteWriter(this.propertiesBytes + 64);
    encodeProperties(writer, decoded);
    const encoded = writer.take();
    if (encoded.length > this.properties.length)
      this.properties = Buffer.allocUnsafe(encoded.length);
    encoded.copy(this.properties);
    this.propertiesBytes = encoded.length;
  }

  /** The publish being completed as a message block (for a direct reply). */
  private replyBlock(body: Buffer, bodyStart: number, bodyEnd: number): Buffer {
    const block = Buffer.allocUnsafe(
      this.headBytes + 4 + this.propertiesBytes + bodyEnd - bodyStart,
    );
    let at = this.head.copy(block, 0, 0, this.headBytes);
    block.writeUInt32LE(this.propertiesBytes, at);
    at += 4;
    at += this.properties.copy(block, at, 0, this.propertiesBytes);
    body.copy(block, at, bodyStart, bodyEnd);
    return block;
  }

  /** ChannelForReplies: a reply for this channel's amq.rabbitmq.reply-to consumer (no ack). */
  deliverReply(block: Buffer): void {
    const tag = this.replyConsumerTag;
    if (tag === null || this.isClosing) return;
    const view = this.view.read(block, 0, block.length);
    const connection = this.connection;
    const deliveryTag = this.deliveryTags.assign(false, 0, 0);
    writeBasicDeliver(connection.out, this.channelId, tag, deliveryTag, false, block, view);
    writeContent(
      connection.out,
      this.channelId,
      connection.frameMaxBytes,
      block,
      view.propertiesStart,
      view.propertiesEnd,
      block,
      view.bodyStart,
      view.bodyEnd,
    );
    connection.markDirty();
  }

  /** basic.consume on amq.rabbitmq.reply-to: no queue, replies come straight to this channel. */
  private consumeReplies(method: Extract<AmqpMethod, { method: 'basic.consume' }>): void {
    if (!method.noAck)
      throw channelError(PRECONDITION_FAILED, 'reply consumer cannot acknowledge', 60, 20);
    if (this.replyConsumerTag !== null)
      throw channelError(PRECONDITION_FAILED, 'reply consumer already set', 60, 20);
    let tag = method.consumerTag;
    if (tag === '') tag = this.connection.broker.serverGeneratedName('amq.ctag-');
    else if (this.consumers.has(tag))
      throw connectionError(NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, 60, 20);
    this.replyConsumerTag = Buffer.from(tag, 'utf8');
    this.replyKey = randomBytes(18).toString('base64url');
    this.connection.broker.replyChannels.set(this.replyKey, this);
    if (!method.noWait)
      this.connection.sendMethod(this.channelId, { method: 'basic.consume-ok', consumerTag: tag });
  }

  /** Stops direct reply-to on this channel; replies to its old name become unroutable. */
  private stopReplies(): void {
    if (this.replyConsumerTag === null) return;
    this.replyConsumerTag = null;
    this.connection.broker.replyChannels.delete(this.replyKey);
    this.replyKey = '';
  }

  private shardMaskOf(queues: readonly QueueRecord[]): number {
    let mask = 0;
    for (let i = 0; i < queues.length; i++) mask |= 1 << queues[i]!.shardIndex;
    return mask;
  }

  /** Writes one publish record per shard that holds any of `queues`. */
  private sendToShards(
    queues: readonly QueueRecord[],
    flags: number,
    confirmSeq: number,
    head: Buffer,
    headBytes: number,
    properties: Buffer,
    propertiesBytes: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): void {
    const links = this.connection.broker.links;
    const connectionId = this.connection.connectionId;
    const ids = queueIdScratchFor(queues.length);
    if (queues.length === 1) {
      const queue = queues[0]!;
      ids[0] = queue.queueId;
      links[queue.shardIndex]!.publish(
        connectionId,
        this.channelId,
        flags,
        confirmSeq,
        ids,
        1,
        head,
        headBytes,
        properties,
        propertiesBytes,
        body,
        bodyStart,
        bodyEnd,
      );
      return;
    }
    let remaining = this.shardMaskOf(queues);
    while (remaining !== 0) {
      const shardIndex = 31 - Math.clz32(remaining);
      remaining &= ~(1 << shardIndex);
      let count = 0;
      for (let i = 0; i < queues.length; i++) {
        const queue = queues[i]!;
        if (queue.shardIndex === shardIndex) ids[count++] = queue.queueId;
      }
      links[shardIndex]!.publish(
        connectionId,
        this.channelId,
        flags,
        confirmSeq,
        ids,
        count,
        head,
        headBytes,
        properties,
        propertiesBytes,
        body,
        bodyStart,
        bodyEnd,
      );
    }
  }

  private sendReturn(
    head: Buffer,
    headBytes: number,
    properties: Buffer,
    propertiesBytes: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): void {
    const connection = this.connection;
    writeBasicReturn(connection.out, this.channelId, NO_ROUTE, 'NO_ROUTE', head, headBytes);
    writeContent(
      connection.out,
      this.channelId,
      connection.frameMaxBytes,
      properties,
      0,
      propertiesBytes,
      body,
      bodyStart,
      bodyEnd,
    );
    connection.markDirty();
  }

  /** A shard settled publishes up to `confirmSeq`. */
  onShardConfirm(shardIndex: number, confirmSeq: number): void {
    const confirms = this.confirms;
    if (confirms === null || this.isClosing) return;
    confirms.settle(shardIndex, confirmSeq);
    this.sendConfirms();
  }

  /** A queue refused publish `confirmSeq` (x-overflow reject-publish): it will be nacked. */
  onShardReject(confirmSeq: number): void {
    if (this.confirms === null || this.isClosing) return;
    this.confirms.reject(confirmSeq);
  }

  private sendConfirms(): void {
    const confirms = this.confirms!;
    const highest = confirms.advance();
    if (highest === 0) return;
    this.confirmedCount += confirms.advancedCount;
    const rejected = confirms.rejected;
    if (rejected.size === 0) {
      this.connection.sendMethod(this.channelId, {
        method: 'basic.ack',
        deliveryTag: highest,
        multiple: confirms.advancedCount > 1,
      });
      return;
    }
    // In order: one basic.ack per run of accepted publishes and one basic.nack per run of refused
    // ones (a queue's reject-publish, a log that could not store them), multiple when a run
    // covers more than one.
    let runStart = highest - confirms.advancedCount + 1;
    while (runStart <= highest) {
      const isRefused = rejected.delete(runStart);
      let runEnd = runStart;
      while (runEnd < highest && rejected.has(runEnd + 1) === isRefused) {
        if (isRefused) rejected.delete(runEnd + 1);
        runEnd++;
      }
      this.connection.sendMethod(
        this.channelId,
        isRefused
          ? {
              method: 'basic.nack',
              deliveryTag: runEnd,
              multiple: runEnd > runStart,
              requeue: false,
            }
          : { method: 'basic.ack', deliveryTag: runEnd, multiple: runEnd > runStart },
      );
      runStart = runEnd + 1;
    }
  }

  private checkWritable(exchangeName: string): void {
    const broker = this.connection.broker;
    if (this.permissionVersion !== broker.access.version) {
      this.permissionVersion = broker.access.version;
      this.writableExchanges.clear();
    }
    if (this.writableExchanges.has(exchangeName)) return;
    this.connection.checkPermission(
      'write',
      'exchange',
      exchangeName,
      CLASS_BASIC,
      METHOD_BASIC_PUBLISH,
    );
    this.writableExchanges.add(exchangeName);
  }

  // ---------------------------------------------------------------- transactions

  private holdPublish(
    queues: readonly QueueRecord[],
    flags: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): void {
    const held: HeldPublish = {
      queues: [...queues],
      isMandatory: this.isMandatory,
      flags,
      head: Buffer.from(this.head.subarray(0, this.headBytes)),
      properties: Buffer.from(this.properties.subarray(0, this.propertiesBytes)),
      body: Buffer.from(body.subarray(bodyStart, bodyEnd)),
    };
    this.heldBytes += held.body.length + held.properties.length;
    const limit = this.connection.broker.options.messageMaxBytes * 4;
    if (this.heldBytes > limit) {
      throw channelError(
        PRECONDITION_FAILED,
        `transaction holds more than ${limit} bytes`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    this.heldPublishes.push(held);
  }

  /**
   * tx.commit: every held publish and settle goes to its shards as one transaction record per
   * shard, which the shard applies and logs atomically; commit-ok follows once every involved
   * shard has made its part durable. Atomic per shard, not across shards (see README).
   */
  private commit(): void {
    const publishes = this.heldPublishes;
    const settles = this.heldSettles;
    this.heldPublishes = [];
    this.heldSettles = [];
    this.heldBytes = 0;
    const links = this.connection.broker.links;
    const connectionId = this.connection.connectionId;
    const records: Buffer[][] = links.map(() => []);
    for (const held of publishes) {
      const queues = held.queues.filter((queue) => !queue.isDeleted);
      const ids = queueIdScratchFor(queues.length);
      if (queues.length === 0) {
        // RabbitMQ returns unroutable mandatory messages at commit, before commit-ok.
        if (held.isMandatory) {
          this.sendReturn(
            held.head,
            held.head.length,
            held.properties,
            held.properties.length,
            held.body,
            0,
            held.body.length,
          );
        }
        continue;
      }
      for (let remaining = this.shardMaskOf(queues); remaining !== 0;) {
        const shardIndex = 31 - Math.clz32(remaining);
        remaining &= ~(1 << shardIndex);
        let count = 0;
        for (const queue of queues)
          if (queue.shardIndex === shardIndex) ids[count++] = queue.queueId;
        const bytes = publishRecordBytes(
          count,
          held.head.length,
          held.properties.length,
          held.body.length,
        );
        const record = nestedRecord(CMD_PUBLISH, bytes);
        writePublishRecord(
          record,
          NESTED_HEADER_BYTES,
          connectionId,
          this.channelId,
          held.flags,
          0,
          ids,
          count,
          held.head,
          held.head.length,
          held.properties,
          held.properties.length,
          held.body,
          0,
          held.body.length,
        );
        records[shardIndex]!.push(record);
      }
    }
    for (const settle of settles) {
      const record = nestedRecord(CMD_SETTLE, SETTLE_HEADER_BYTES + 8);
      writeSettleRecord(
        record,
        NESTED_HEADER_BYTES,
        connectionId,
        this.channelId,
        settle.action,
        new Float64Array([settle.deliveryId]),
        1,
      );
      records[settle.shardIndex]!.push(record);
      if (settle.isLimited) this.limitedUnacked--;
    }
    this.grantCredit();
    let waiting = 0;
    let failure: string | null = null;
    const onCommitted: ReplyHandler = {
      onReply: (replyCode, _value, replyText) => {
        waiting--;
        // A shard that could not store its part (disk full, I/O error) fails the commit.
        if (replyCode !== 0) failure ??= replyText;
        if (waiting > 0 || this.isClosing) return;
        if (failure === null) {
          this.connection.sendMethod(this.channelId, { method: 'tx.commit-ok' });
          return;
        }
        this.connection.failChannel(this, channelError(PRECONDITION_FAILED, failure, 90, 20));
      },
    };
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      if (records[shardIndex]!.length === 0) continue;
      waiting++;
      links[shardIndex]!.transaction(records[shardIndex]!, onCommitted);
    }
    if (waiting === 0) this.connection.sendMethod(this.channelId, { method: 'tx.commit-ok' });
  }

  // ---------------------------------------------------------------- acks

  private ack(deliveryTag: number, isMultiple: boolean): void {
    this.settle(deliveryTag, isMultiple, SETTLE_ACK, 'basic.ack');
  }

  private settle(
    deliveryTag: number,
    isMultiple: boolean,
    action: number,
    methodName: string,
  ): void {
    const tags = this.deliveryTags;
    if (!(isMultiple && deliveryTag === 0) && !tags.isUnacked(deliveryTag)) {
      const [classId, methodId] =
        methodName === 'basic.ack' ? [60, 80] : methodName === 'basic.nack' ? [60, 120] : [60, 90];
      throw channelError(
        PRECONDITION_FAILED,
        `unknown delivery tag ${deliveryTag}`,
        classId,
        methodId,
      );
    }
    this.settleAction = action;
    if (this.isTransactional) {
      const holder: SettledDeliverySink = {
        collect: (shardIndex, deliveryId, tag, isLimited) =>
          this.heldSettles.push({ action, shardIndex, deliveryId, tag, isLimited }),
      };
      if (isMultiple) tags.settleUpTo(deliveryTag, holder);
      else tags.settleOne(deliveryTag, holder);
      return;
    }
    if (isMultiple) tags.settleUpTo(deliveryTag, this);
    else tags.settleOne(deliveryTag, this);
    this.flushSettles();
    this.grantCredit();
  }

  /** SettledDeliverySink: batches settled deliveries per shard. */
  collect(shardIndex: number, deliveryId: number, _tag: number, isLimited: boolean): void {
    if (isLimited) this.limitedUnacked--;
    if (this.settleAction === SETTLE_ACK) this.ackedCount++;
    let ids = this.settleIds[shardIndex]!;
    const count = this.settleCounts[shardIndex]!;
    if (count === ids.length) {
      const grown = new Float64Array(ids.length * 2);
      grown.set(ids);
      this.settleIds[shardIndex] = ids = grown;
    }
    ids[count] = deliveryId;
    this.settleCounts[shardIndex] = count + 1;
  }

  private flushSettles(): void {
    const links = this.connection.broker.links;
    const connectionId = this.connection.connectionId;
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      const count = this.settleCounts[shardIndex]!;
      if (count === 0) continue;
      links[shardIndex]!.settle(
        connectionId,
        this.channelId,
        this.settleAction,
        this.settleIds[shardIndex]!,
        count,
      );
      this.settleCounts[shardIndex] = 0;
    }
  }

  /** Requeues every unacked delivery of this channel (basic.recover, channel close). */
  private requeueAll(): void {
    this.settleAction = SETTLE_REQUEUE;
    this.deliveryTags.settleUpTo(0, this);
    this.flushSettles();
    this.grantCredit();
  }

  /**
   * RabbitMQ's consumer timeout, checked once a second: true when the same delivery has been
   * the oldest unacked one on this channel for `timeoutMs` (so it was delivered at least that
   * long ago). Costs nothing per delivery.
   */
  isAckOverdue(nowMs: number, timeoutMs: number): boolean {
    const oldest = this.deliveryTags.oldestUnackedTag();
    if (oldest !== this.watchedTag) {
      this.watchedTag = oldest;
      this.watchedSinceMs = nowMs;
      return false;
    }
    return oldest !== 0 && nowMs - this.watchedSinceMs >= timeoutMs;
  }

  // ---------------------------------------------------------------- deliveries from shards

  /** A shard delivered to one of this channel's consumers; writes basic.deliver + content. */
  deliveryTagFor(
    consumer: ChannelConsumer,
    shardIndex: number,
    deliveryId: number,
    hasUsedCredit: boolean,
  ): number {
    this.touchedShards |= 1 << shardIndex;
    if (hasUsedCredit) this.creditGranted[shardIndex]!--;
    if (consumer.isNoAck) return this.deliveryTags.assign(false, shardIndex, deliveryId);
    this.limitedUnacked++;
    return this.deliveryTags.assign(true, shardIndex, deliveryId, true);
  }

  // ---------------------------------------------------------------- methods

  private onMethod(method: AmqpMethod): void {
    switch (method.method) {
      case 'channel.close':
        this.connection.closeChannelFromClient(this);
        return;
      case 'channel.close-ok':
        // Nobody asked for it: RabbitMQ treats it as a method the server does not take.
        throw connectionError(COMMAND_INVALID, 'unimplemented method', 20, 41);
      case 'channel.flow':
        if (!method.active) {
          // RabbitMQ refuses client-initiated flow control (rabbit_channel, channel.flow).
          throw connectionError(NOT_IMPLEMENTED, 'active=false', 20, 20);
        }
        this.connection.sendMethod(this.channelId, { method: 'channel.flow-ok', active: true });
        return;
      case 'channel.flow-ok':
        return;
      case 'channel.open':
        throw connectionError(504, `second 'channel.open' seen`, 20, 10);
      case 'exchange.declare':
        return this.exchangeDeclare(method);
      case 'exchange.delete':
        this.connection.checkPermission('configure', 'exchange', method.exchange, 40, 20);
        this.vhost.deleteExchange(method.exchange, method.ifUnused);
        if (!method.noWait) this.replyWhenDurable({ method: 'exchange.delete-ok' });
        return;
      case 'exchange.bind':
      case 'exchange.unbind':
        return this.exchangeBind(method);
      case 'queue.declare':
        return this.queueDeclare(method);
      case 'queue.bind':
      case 'queue.unbind':
        return this.queueBind(method);
      case 'queue.purge':
        return this.queuePurge(method);
      case 'queue.delete':
        return this.queueDelete(method);
      case 'basic.qos':
        return this.basicQos(method);
      case 'basic.consume':
        return this.basicConsume(method);
      case 'basic.cancel':
        return this.basicCancel(method.consumerTag, method.noWait);
      case 'basic.get':
        return this.basicGet(method.queue, method.noAck);
      case 'basic.ack':
        return this.ack(method.deliveryTag, method.multiple);
      case 'basic.nack':
        return this.settle(
          method.deliveryTag,
          method.multiple,
          method.requeue ? SETTLE_REQUEUE : SETTLE_DISCARD,
          'basic.nack',
        );
      case 'basic.reject':
        return this.settle(
          method.deliveryTag,
          false,
          method.requeue ? SETTLE_REQUEUE : SETTLE_DISCARD,
          'basic.reject',
        );
      case 'basic.recover':
      case 'basic.recover-async':
        if (!method.requeue) {
          throw connectionError(
            NOT_IMPLEMENTED,
            'requeue=false',
            CLASS_BASIC,
            method.method === 'basic.recover' ? 110 : 100,
          );
        }
        this.requeueAll();
        if (method.method === 'basic.recover')
          this.connection.sendMethod(this.channelId, { method: 'basic.recover-ok' });
        return;
      case 'confirm.select':
        if (this.isTransactional) {
          throw channelError(PRECONDITION_FAILED, 'cannot switch from tx to confirm mode', 85, 10);
        }
        if (!this.isConfirmMode) {
          this.isConfirmMode = true;
          const broker = this.connection.broker;
          this.confirms = new ConfirmTracker(
            broker.links.length,
            broker.batchClock,
            broker.confirmLatency,
          );
        }
        if (!method.nowait)
          this.connection.sendMethod(this.channelId, { method: 'confirm.select-ok' });
        return;
      case 'tx.select':
        if (this.isConfirmMode) {
          throw channelError(PRECONDITION_FAILED, 'cannot switch from confirm to tx mode', 90, 10);
        }
        this.isTransactional = true;
        this.connection.sendMethod(this.channelId, { method: 'tx.select-ok' });
        return;
      case 'tx.commit':
        if (!this.isTransactional)
          throw channelError(PRECONDITION_FAILED, 'channel is not transactional', 90, 20);
        this.commit();
        return;
      case 'tx.rollback':
        if (!this.isTransactional)
          throw channelError(PRECONDITION_FAILED, 'channel is not transactional', 90, 30);
        this.rollback();
        this.connection.sendMethod(this.channelId, { method: 'tx.rollback-ok' });
        return;
      case 'basic.publish':
        // Reached only when the fast path could not parse it; decodeMethod has validated it.
        throw connectionError(
          COMMAND_INVALID,
          'malformed basic.publish',
          CLASS_BASIC,
          METHOD_BASIC_PUBLISH,
        );
      default:
        throw connectionError(COMMAND_INVALID, `unimplemented method`);
    }
  }

  private rollback(): void {
    this.heldPublishes = [];
    this.heldBytes = 0;
    // RabbitMQ's rollback forgets held acks; the deliveries stay unacknowledged.
    const settles = this.heldSettles;
    this.heldSettles = [];
    for (const settle of settles) {
      this.deliveryTags.restore(settle.tag, settle.shardIndex, settle.deliveryId, settle.isLimited);
    }
  }

  private exchangeDeclare(method: Extract<AmqpMethod, { method: 'exchange.declare' }>): void {
    const name = method.exchange;
    const connection = this.connection;
    if (name === '') {
      throw channelError(ACCESS_REFUSED, 'operation not permitted on the default exchange', 40, 10);
    }
    if (method.passive) {
      const exchange = this.vhost.exchanges.get(name);
      if (exchange === undefined) {
        throw channelError(
          NOT_FOUND,
          `no ${resourceName('exchange', name, this.vhost.name)}`,
          40,
          10,
        );
      }
    } else {
      if (!isExchangeType(method.type)) {
        throw connectionError(COMMAND_INVALID, `unknown exchange type '${method.type}'`, 40, 10);
      }
      connection.checkPermission('configure', 'exchange', name, 40, 10);
      const alternate = method.arguments['alternate-exchange'];
      if (alternate !== undefined && typeof alternate === 'string') {
        connection.checkPermission('write', 'exchange', alternate, 40, 10);
      }
      this.vhost.declareExchange(
        name,
        method.type,
        { isDurable: method.durable, isAutoDelete: method.autoDelete, isInternal: method.internal },
        method.arguments,
      );
    }
    if (!method.noWait) this.replyWhenDurable({ method: 'exchange.declare-ok' });
  }

  private exchangeBind(
    method: Extract<AmqpMethod, { method: 'exchange.bind' | 'exchange.unbind' }>,
  ): void {
    const isBind = method.method === 'exchange.bind';
    const methodId = isBind ? 30 : 40;
    const connection = this.connection;
    connection.checkPermission('write', 'exchange', method.destination, 40, methodId);
    connection.checkPermission('read', 'exchange', method.source, 40, methodId);
    if (isBind) {
      const destination = this.vhost.exchangeOrThrow(method.destination);
      const source = this.vhost.exchangeOrThrow(method.source);
      this.vhost.bind(source, destination, method.routingKey, method.arguments);
    } else {
      // Unbinding something missing succeeds in RabbitMQ 3.x.
      const destination = this.vhost.exchanges.get(method.destination);
      const source = this.vhost.exchanges.get(method.source);
      if (source === undefined || destination === undefined) {
        if (method.source === '' || method.destination === '') {
          throw channelError(
            ACCESS_REFUSED,
            'operation not permitted on the default exchange',
            40,
            methodId,
          );
        }
      } else {
        this.vhost.unbind(source, destination, method.routingKey, method.arguments);
      }
    }
    if (!method.noWait) {
      this.replyWhenDurable(
        isBind ? { method: 'exchange.bind-ok' } : { method: 'exchange.unbind-ok' },
      );
    }
  }

  /** Sends a reply once every definition change so far is durable ("declare-ok" means on disk). */
  private replyWhenDurable(method: AmqpMethod): void {
    this.connection.broker.whenDefinitionsDurable(() => {
      if (!this.isClosing) this.connection.sendMethod(this.channelId, method);
    });
  }

  /** The queue named, or the last one declared on this channel when the name is empty. */
  private queueNamed(name: string, classId: number, methodId: number): string {
    if (name !== '') return name;
    if (this.lastDeclaredQueue === '') {
      throw channelError(NOT_FOUND, 'no previously declared queue', classId, methodId);
    }
    return this.lastDeclaredQueue;
  }

  /** Refuses access to another connection's exclusive queue (405, as RabbitMQ). */
  private checkExclusiveAccess(queue: QueueRecord, classId: number, methodId: number): void {
    if (queue.isExclusive && queue.ownerConnectionId !== this.connection.connectionId) {
      throw channelError(
        RESOURCE_LOCKED,
        `cannot obtain exclusive access to locked ${resourceName('queue', queue.name, this.vhost.name)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
        classId,
        methodId,
      );
    }
  }

  private queueDeclare(method: Extract<AmqpMethod, { method: 'queue.declare' }>): void {
    const connection = this.connection;
    const broker = connection.broker;
    let name = method.queue;
    if (!method.passive && name.startsWith('amq.')) {
      throw channelError(
        ACCESS_REFUSED,
        `queue name '${name}' contains reserved prefix 'amq.*'`,
        50,
        10,
      );
    }
    const existing = name === '' ? undefined : this.vhost.queues.get(name);
    if (existing !== undefined) {
      this.checkExclusiveAccess(existing, 50, 10);
      if (!method.passive) {
        connection.checkPermission('configure', 'queue', name, 50, 10);
        broker.checkQueueEquivalent(existing, method);
      }
      broker.touchQueue(existing);
      this.lastDeclaredQueue = name;
      if (method.noWait) return;
      const consumerCount = existing.consumers.size;
      broker.links[existing.shardIndex]!.control(
        { op: 'queue.stats', queueId: existing.queueId },
        {
          onReply: (_code, messageCount) => {
            if (this.isClosing) return;
            connection.sendMethod(this.channelId, {
              method: 'queue.declare-ok',
              queue: name,
              messageCount,
              consumerCount,
            });
          },
        },
      );
      return;
    }
    if (method.passive) {
      throw channelError(NOT_FOUND, `no ${resourceName('queue', name, this.vhost.name)}`, 50, 10);
    }
    if (name === '') name = broker.serverGeneratedName('amq.gen-');
    connection.checkPermission('configure', 'queue', name, 50, 10);
    broker.checkQueueLimit(this.vhost, name);
    // A dead-letter exchange also needs read on the queue and write on the exchange (RabbitMQ).
    const deadLetterExchange = method.arguments['x-dead-letter-exchange'];
    if (typeof deadLetterExchange === 'string') {
      connection.checkPermission('read', 'queue', name, 50, 10);
      connection.checkPermission('write', 'exchange', deadLetterExchange, 50, 10);
    }
    const queue = broker.createQueue(
      this.vhost,
      name,
      {
        isDurable: method.durable,
        isAutoDelete: method.autoDelete,
        ownerConnectionId: method.exclusive ? connection.connectionId : 0,
      },
      method.arguments,
    );
    if (method.exclusive) connection.exclusiveQueues.add(queue);
    this.lastDeclaredQueue = name;
    if (!method.noWait) {
      this.replyWhenDurable({
        method: 'queue.declare-ok',
        queue: name,
        messageCount: 0,
        consumerCount: 0,
      });
    }
  }

  private queueBind(method: Extract<AmqpMethod, { method: 'queue.bind' | 'queue.unbind' }>): void {
    const isBind = method.method === 'queue.bind';
    const methodId = isBind ? 20 : 50;
    const connection = this.connection;
    const queueName = this.queueNamed(method.queue, 50, methodId);
    connection.checkPermission('write', 'queue', queueName, 50, methodId);
    connection.checkPermission('read', 'exchange', method.exchange, 50, methodId);
    const args = method.arguments;
    if (isBind) {
      const queue = this.vhost.queueOrThrow(queueName);
      this.checkExclusiveAccess(queue, 50, methodId);
      const exchange = this.vhost.exchangeOrThrow(method.exchange);
      this.vhost.bind(exchange, queue, method.routingKey, args);
    } else {
      // Unbinding something missing succeeds in RabbitMQ 3.x.
      if (method.exchange === '') {
        throw channelError(
          ACCESS_REFUSED,
          'operation not permitted on the default exchange',
          50,
          methodId,
        );
      }
      const queue = this.vhost.queues.get(queueName);
      const exchange = this.vhost.exchanges.get(method.exchange);
      if (queue !== undefined) this.checkExclusiveAccess(queue, 50, methodId);
      if (queue !== undefined && exchange !== undefined)
        this.vhost.unbind(exchange, queue, method.routingKey, args);
    }
    if (isBind) {
      if (!method.noWait) this.replyWhenDurable({ method: 'queue.bind-ok' });
    } else {
      this.replyWhenDurable({ method: 'queue.unbind-ok' });
    }
  }

  private queuePurge(method: Extract<AmqpMethod, { method: 'queue.purge' }>): void {
    const connection = this.connection;
    const queueName = this.queueNamed(method.queue, 50, 30);
    connection.checkPermission('read', 'queue', queueName, 50, 30);
    const queue = this.vhost.queueOrThrow(queueName);
    this.checkExclusiveAccess(queue, 50, 30);
    connection.broker.links[queue.shardIndex]!.control(
      { op: 'queue.purge', queueId: queue.queueId },
      method.noWait
        ? null
        : {
            onReply: (_code, messageCount) => {
              if (!this.isClosing)
                connection.sendMethod(this.channelId, { method: 'queue.purge-ok', messageCount });
            },
          },
    );
  }

  private queueDelete(method: Extract<AmqpMethod, { method: 'queue.delete' }>): void {
    const connection = this.connection;
    const queueName = this.queueNamed(method.queue, 50, 40);
    connection.checkPermission('configure', 'queue', queueName, 50, 40);
    const queue = this.vhost.queues.get(queueName);
    const reply = (messageCount: number) => {
      if (!method.noWait) this.replyWhenDurable({ method: 'queue.delete-ok', messageCount });
    };
    if (queue === undefined) {
      // RabbitMQ 3.x treats deleting a missing queue as success.
      reply(0);
      return;
    }
    this.checkExclusiveAccess(queue, 50, 40);
    // The shard checks if-empty before if-unused, in RabbitMQ's order.
    connection.broker.deleteQueue(
      queue,
      { isIfEmpty: method.ifEmpty, isIfUnused: method.ifUnused },
      (error, messageCount) => {
        if (error !== null) {
          if (!this.isClosing)
            connection.failChannel(this, channelError(PRECONDITION_FAILED, error, 50, 40));
          return;
        }
        reply(messageCount);
      },
    );
  }

  private basicQos(method: Extract<AmqpMethod, { method: 'basic.qos' }>): void {
    if (method.prefetchSize !== 0) {
      throw connectionError(NOT_IMPLEMENTED, `prefetch_size!=0 (${method.prefetchSize})`, 60, 10);
    }
    if (method.global) {
      const wasLimited = this.globalPrefetch > 0;
      this.globalPrefetch = method.prefetchCount;
      const isLimited = this.globalPrefetch > 0;
      if (wasLimited !== isLimited) {
        if (!isLimited) {
          this.creditGranted.fill(0);
          this.creditRequests = 0;
        }
        const links = this.connection.broker.links;
        for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
          if ((this.touchedShards & (1 << shardIndex)) === 0) continue;
          links[shardIndex]!.control(
            {
              op: 'channel.qos',
              connectionId: this.connection.connectionId,
              channelId: this.channelId,
              isCreditLimited: isLimited,
            },
            null,
          );
        }
      }
      this.grantCredit();
    } else {
      this.consumerPrefetch = method.prefetchCount;
    }
    this.connection.sendMethod(this.channelId, { method: 'basic.qos-ok' });
  }

  /**
   * Hands out channel credit for a channel-wide prefetch (basic.qos global=true). This channel
   * owns the limit: credit held by shards plus unacked consumer deliveries never exceed it. A
   * shard asks when a consumer here could take a message but for credit, spends one unit per
   * delivery, and gives back what it holds while it has nothing to deliver. So any single
   * consumer can use the whole limit and the shards never exceed it together.
   */
  private grantCredit(): void {
    const limit = this.globalPrefetch;
    if (limit === 0 || this.creditRequests === 0) return;
    let held = 0;
    for (let i = 0; i < this.creditGranted.length; i++) held += this.creditGranted[i]!;
    let available = limit - this.limitedUnacked - held;
    if (available <= 0) return;
    let askers = 0;
    for (let requests = this.creditRequests; requests !== 0; requests &= requests - 1) askers++;
    const links = this.connection.broker.links;
    for (let shardIndex = 0; shardIndex < links.length && available > 0; shardIndex++) {
      if ((this.creditRequests & (1 << shardIndex)) === 0) continue;
      const amount = Math.max(1, Math.floor(available / askers));
      askers--;
      available -= amount;
      this.creditRequests &= ~(1 << shardIndex);
      this.creditGranted[shardIndex]! += amount;
      links[shardIndex]!.credit(this.connection.connectionId, this.channelId, amount);
    }
  }

  /** A shard asks for credit (amount 0) or gives unused credit back. */
  onShardCredit(shardIndex: number, amount: number): void {
    if (this.isClosing) return;
    if (amount === 0) this.creditRequests |= 1 << shardIndex;
    else this.creditGranted[shardIndex]! -= amount;
    this.grantCredit();
  }

  private basicConsume(method: Extract<AmqpMethod, { method: 'basic.consume' }>): void {
    const connection = this.connection;
    const broker = connection.broker;
    const queueName = this.queueNamed(method.queue, 60, 20);
    if (queueName === REPLY_QUEUE) return this.consumeReplies(method);
    connection.checkPermission('read', 'queue', queueName, 60, 20);
    const queue = this.vhost.queueOrThrow(queueName);
    this.checkExclusiveAccess(queue, 60, 20);
    let tag = method.consumerTag;
    if (tag === '') tag = broker.serverGeneratedName('amq.ctag-');
    else if (this.consumers.has(tag)) {
      throw connectionError(NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, 60, 20);
    }
    const priority = consumerPriority(method.arguments['x-priority'], queue);
    if (queue.hasExclusiveConsumer || (method.exclusive && queue.consumers.size > 0)) {
      throw channelError(
        ACCESS_REFUSED,
        `queue '${queueName}' in vhost '${this.vhost.name}' in exclusive use`,
        60,
        20,
      );
    }
    const consumer: ChannelConsumer = {
      consumerId: broker.nextConsumerId(),
      tag,
      tagBytes: Buffer.from(tag, 'utf8'),
      queue,
      isExclusive: method.exclusive,
      isNoAck: method.noAck,
      channel: this,
    };
    this.consumers.set(tag, consumer);
    queue.consumers.add(consumer);
    queue.hasHadConsumer = true;
    broker.touchQueue(queue);
    broker.consumers.set(consumer.consumerId, consumer);
    this.touchedShards |= 1 << queue.shardIndex;
    broker.links[queue.shardIndex]!.control(
      {
        op: 'consume',
        queueId: queue.queueId,
        consumerId: consumer.consumerId,
        connectionId: connection.connectionId,
        channelId: this.channelId,
        prefetchCount: this.consumerPrefetch,
        isNoAck: method.noAck,
        isChannelCreditLimited: this.globalPrefetch > 0,
        priority,
      },
      method.noWait
        ? null
        : {
            onReply: () => {
              if (!this.isClosing)
                connection.sendMethod(this.channelId, {
                  method: 'basic.consume-ok',
                  consumerTag: tag,
                });
            },
          },
    );
  }

  private basicCancel(tag: string, isNoWait: boolean): void {
    const connection = this.connection;
    if (this.replyConsumerTag !== null && this.replyConsumerTag.toString('utf8') === tag) {
      this.stopReplies();
      if (!isNoWait)
        connection.sendMethod(this.channelId, { method: 'basic.cancel-ok', consumerTag: tag });
      return;
    }
    const consumer = this.consumers.get(tag);
    if (consumer === undefined) {
      if (!isNoWait)
        connection.sendMethod(this.channelId, { method: 'basic.cancel-ok', consumerTag: tag });
      return;
    }
    this.consumers.delete(tag);
    const broker = connection.broker;
    broker.links[consumer.queue.shardIndex]!.control(
      { op: 'cancel', consumerId: consumer.consumerId },
      {
        onReply: () => {
          // Deliveries the shard made before the cancel still reach the client; none after.
          broker.consumers.delete(consumer.consumerId);
          if (!isNoWait && !this.isClosing)
            connection.sendMethod(this.channelId, { method: 'basic.cancel-ok', consumerTag: tag });
        },
      },
    );
    broker.detachConsumer(consumer);
  }

  /** The server cancels a consumer because its queue is gone (consumer_cancel_notify). */
  cancelFromServer(consumer: ChannelConsumer): void {
    this.consumers.delete(consumer.tag);
    this.connection.broker.consumers.delete(consumer.consumerId);
    if (this.isClosing || !this.connection.capabilities.consumerCancelNotify) return;
    this.connection.sendMethod(this.channelId, {
      method: 'basic.cancel',
      consumerTag: consumer.tag,
      noWait: true,
    });
  }

  private basicGet(queueNameGiven: string, isNoAck: boolean): void {
    const connection = this.connection;
    const queueName = this.queueNamed(queueNameGiven, 60, 70);
    connection.checkPermission('read', 'queue', queueName, 60, 70);
    const queue = this.vhost.queueOrThrow(queueName);
    this.checkExclusiveAccess(queue, 60, 70);
    connection.broker.touchQueue(queue);
    const shardIndex = queue.shardIndex;
    this.touchedShards |= 1 << shardIndex;
    const view = this.view;
    connection.broker.links[shardIndex]!.control(
      {
        op: 'get',
        queueId: queue.queueId,
        connectionId: connection.connectionId,
        channelId: this.channelId,
        isNoAck,
      },
      {
        onReply: () => {
          if (!this.isClosing) connection.sendMethod(this.channelId, { method: 'basic.get-empty' });
        },
        onGetOk: (deliveryId, isRedelivered, messageCount, bytes, start, end) => {
          // The shard recorded the delivery on this channel; a closed channel's is requeued there.
          if (this.isClosing) return;
          const tag = this.deliveryTags.assign(!isNoAck, shardIndex, deliveryId);
          this.deliveredCount++;
          view.read(bytes, start, end);
          const out = connection.out;
          writeBasicGetOk(out, this.channelId, tag, isRedelivered, messageCount, bytes, view);
          writeContent(
            out,
            this.channelId,
            connection.frameMaxBytes,
            bytes,
            view.propertiesStart,
            view.propertiesEnd,
            bytes,
            view.bodyStart,
            view.bodyEnd,
          );
          connection.markDirty();
        },
      },
    );
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Releases everything the channel holds: consumers leave their queues, unacked deliveries go
   * back (the shards requeue them in order), held transaction work is dropped.
   */
  release(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isClosing = true;
    const connection = this.connection;
    const broker = connection.broker;
    for (const consumer of this.consumers.values()) {
      broker.consumers.delete(consumer.consumerId);
      broker.detachConsumer(consumer);
    }
    this.consumers.clear();
    this.stopReplies();
    this.heldPublishes = [];
    this.heldSettles = [];
    const links = broker.links;
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      if ((this.touchedShards & (1 << shardIndex)) === 0) continue;
      links[shardIndex]!.control(
        { op: 'channel.close', connectionId: connection.connectionId, channelId: this.channelId },
        null,
      );
    }
  }
}

const NESTED_HEADER_BYTES = 5;

const EXPIRATION_MAX_MS = 315_360_000_000;

/**
 * basic.consume's x-priority: any integer type, else RabbitMQ's 406 (text checked against
 * RabbitMQ 3.10.8).
 */
function consumerPriority(value: unknown, queue: QueueRecord): number {
  if (value === undefined) return 0;
  if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint')
    return Number(value);
  const type =
    typeof value === 'string'
      ? 'longstr'
      : typeof value === 'boolean'
        ? 'bool'
        : typeof value === 'number'
          ? 'double'
          : 'table';
  throw channelError(
    PRECONDITION_FAILED,
    `invalid arg 'x-priority' for ${resourceName('queue', queue.name, queue.vhost)}: "expected integer, got ${type}"`,
    60,
    20,
  );
}

/**
 * Refuses an expiration property RabbitMQ refuses (rabbit_basic:parse_expiration, read like
 * Erlang's string:to_integer), with its texts.
 */
function checkExpiration(expiration: string): void {
  const match = /^[+-]?\d+/.exec(expiration);
  let reason: string | null = null;
  if (match === null) reason = 'no_integer';
  else if (match[0].length < expiration.length)
    reason = `{leftover_string,"${expiration.slice(match[0].length)}"}`;
  else {
    const value = Number(match[0]);
    if (value < 0) reason = `{value_negative,${value}}`;
    else if (value > EXPIRATION_MAX_MS) reason = `{value_too_large,${value}}`;
  }
  if (reason === null) return;
  throw channelError(
    PRECONDITION_FAILED,
    `invalid expiration '${expiration}': ${reason}`,
    CLASS_BASIC,
    METHOD_BASIC_PUBLISH,
  );
}

/** A record to nest in a transaction: u8 type, u32 bytes, then `bytes` to fill from offset 5. */
function nestedRecord(type: number, bytes: number): Buffer {
  const record = Buffer.allocUnsafe(NESTED_HEADER_BYTES + bytes);
  record[0] = type;
  record.writeUInt32LE(bytes, 1);
  return record;
}
