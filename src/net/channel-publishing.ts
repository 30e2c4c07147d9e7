// The publishing side of one channel: a publish assembled from its method, header and body
// frames, checked, routed to its queues and written to their shards (or held by a
// transaction, or returned when mandatory and unroutable), and publisher confirms as the
// shards settle what they were sent. Network thread only; the hot path of the broker.

import {
  ByteWriter,
  copyBytes,
  decodeContentHeader,
  decodeProperties,
  encodeProperties,
  PROPERTY_FLAG_EXPIRATION,
  PROPERTY_FLAG_HEADERS,
  PROPERTY_FLAG_REPLY_TO,
  readDeliveryMode,
  readExpiration,
  readReplyTo,
  validateProperties,
} from '../codec/index.js';
import {
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_EXPIRATION,
  OutgoingPublish,
  PUBLISH_FLAG_PERSISTENT,
  writeMessageBlock,
} from '../shard/api.js';
import type { ChannelContext } from './channel-context.js';
import type { ChannelTransaction } from './channel-transaction.js';
import { ConfirmTracker } from './confirm-tracker.js';
import { writeReturnedMessage } from './content-frames.js';
import { type DirectReplyTo, REPLY_PREFIX, REPLY_QUEUE } from './direct-reply-to.js';
import { type QueueRecord, shardMaskOf } from './exchange.js';
import { channelError, connectionError, resourceName } from './protocol-errors.js';
import { senderSelectedRoutes, withoutBcc } from './sender-selected.js';

const CLASS_BASIC = 60;
const METHOD_BASIC_PUBLISH = 40;

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
const UNEXPECTED_FRAME = 505;
const NOT_IMPLEMENTED = 540;

const EXPIRATION_MAX_MS = 315_360_000_000;

/** What the channel expects next from the client. */
const enum ContentState {
  Method,
  Header,
  Body,
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

export class ChannelPublishing {
  private contentState = ContentState.Method;
  /** Set by tx.select: publishes are held until tx.commit. */
  transaction: ChannelTransaction | null = null;
  // Counters sampled by management (plain increments; nothing is sent per message).
  publishedCount = 0;
  confirmedCount = 0;
  private readonly channel: ChannelContext;
  private readonly replies: DirectReplyTo;
  // The publish being assembled: [u8 len][exchange][u8 len][routing key] in `head`.
  private readonly head = Buffer.allocUnsafe(2 + 255 + 255);
  private headBytes = 0;
  private exchangeName = '';
  private routingKey = '';
  private isMandatory = false;
  private properties: Buffer = Buffer.allocUnsafe(256);
  private propertiesBytes = 0;
  private bodyBytesExpected = 0;
  private bodyBytesReceived = 0;
  private body: Buffer = Buffer.alloc(0);
  private confirms: ConfirmTracker | null = null;
  /** The publish being sent to shards, refilled per message. */
  private readonly outgoing = new OutgoingPublish();
  private permissionVersion = -1;
  private readonly writableExchanges = new Set<string>();

  constructor(channel: ChannelContext, replies: DirectReplyTo) {
    this.channel = channel;
    this.replies = replies;
  }

  get isConfirmMode(): boolean {
    return this.confirms !== null;
  }

  /** Publishes in confirm mode not yet confirmed. */
  get unconfirmedCount(): number {
    return this.confirms?.outstanding ?? 0;
  }

  /** confirm.select: every publish from now on is confirmed (or nacked) in order. */
  selectConfirms(): void {
    if (this.confirms !== null) return;
    const services = this.channel.services;
    this.confirms = new ConfirmTracker(
      services.links.length,
      services.batchClock,
      services.confirmLatency,
    );
  }

  // ---------------------------------------------------------------- assembly

  /** A method frame arrived: refused while a publish still waits for its header or body. */
  checkMethodExpected(): void {
    if (this.contentState === ContentState.Method) return;
    throw connectionError(
      UNEXPECTED_FRAME,
      `expected content ${this.contentState === ContentState.Header ? 'header' : 'body'} for class 60, got non content header frame instead`,
      CLASS_BASIC,
      METHOD_BASIC_PUBLISH,
    );
  }

  /**
   * basic.publish's fields at bytes[start, end) (after class and method ids); returns false to
   * let the generic decoder report errors. Hot path.
   */
  beginPublish(bytes: Buffer, start: number, end: number): boolean {
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
    const messageMaxBytes = this.channel.services.options.messageMaxBytes;
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

  // ---------------------------------------------------------------- routing

  private completePublish(body: Buffer, bodyStart: number, bodyEnd: number): void {
    const channel = this.channel;
    const vhost = channel.vhost;
    const exchange = vhost.exchanges.get(this.exchangeName);
    if (exchange === undefined) {
      throw channelError(
        NOT_FOUND,
        `no ${resourceName('exchange', this.exchangeName, vhost.name)}`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    if (exchange.isInternal) {
      throw channelError(
        ACCESS_REFUSED,
        `cannot publish to internal ${resourceName('exchange', exchange.name, vhost.name)}`,
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
      const target = channel.services.replyTargets.get(this.routingKey.slice(REPLY_PREFIX.length));
      if (target !== undefined) {
        const block = this.replyBlock(body, bodyStart, bodyEnd);
        // In a transaction the reply waits for tx.commit, as RabbitMQ delivers it.
        if (this.transaction !== null) this.transaction.holdReply(target, block);
        else target.deliverReply(block);
        if (this.confirms !== null) {
          this.confirms.add(0);
          this.sendConfirms();
        }
        return;
      }
      // A reply to a channel that is gone is unroutable, as in RabbitMQ.
    }
    let properties: Buffer = this.properties;
    let propertiesBytes = this.propertiesBytes;
    const isPersistent = readDeliveryMode(properties, 0, propertiesBytes) === 2;
    // One look at the flags word; the expiration and headers are read only when present.
    const propertyFlags = propertiesBytes >= 2 ? properties.readUInt16BE(0) : 0;
    const hasExpiration = (propertyFlags & PROPERTY_FLAG_EXPIRATION) !== 0;
    if (hasExpiration) checkExpiration(readExpiration(properties, 0, propertiesBytes) ?? '');
    const selected =
      (propertyFlags & PROPERTY_FLAG_HEADERS) === 0
        ? null
        : senderSelectedRoutes(properties, 0, propertiesBytes);
    const queues = channel.services.router.route(
      vhost,
      exchange,
      this.routingKey,
      properties,
      0,
      propertiesBytes,
      selected?.keys ?? null,
    );
    if (selected?.hasBcc === true) {
      // BCC routes the message but never reaches a consumer (RabbitMQ strips it after routing).
      properties = this.properties = withoutBcc(properties, 0, propertiesBytes);
      propertiesBytes = this.propertiesBytes = properties.length;
    }
    exchange.publishOutCount += queues.length;
    const contentFlags =
      (isPersistent ? PUBLISH_FLAG_PERSISTENT : 0) | (hasExpiration ? PUBLISH_FLAG_EXPIRATION : 0);
    if (this.transaction !== null) {
      this.transaction.holdPublish(
        queues,
        this.isMandatory,
        contentFlags,
        this.head,
        this.headBytes,
        properties,
        propertiesBytes,
        body,
        bodyStart,
        bodyEnd,
      );
      return;
    }
    const confirms = this.confirms;
    if (queues.length === 0) {
      if (this.isMandatory) {
        const connection = channel.connection;
        writeReturnedMessage(
          connection.out,
          channel.channelId,
          connection.frameMaxBytes,
          this.head,
          this.headBytes,
          properties,
          propertiesBytes,
          body,
          bodyStart,
          bodyEnd,
        );
        connection.markDirty();
      }
      if (confirms !== null) {
        confirms.add(0);
        this.sendConfirms();
      }
      return;
    }
    const flags = (confirms !== null ? PUBLISH_FLAG_CONFIRM : 0) | contentFlags;
    const confirmSeq = confirms !== null ? confirms.add(shardMaskOf(queues)) : 0;
    this.sendToShards(queues, flags, confirmSeq, body, bodyStart, bodyEnd);
  }

  /**
   * Direct reply-to: a publish whose reply-to is amq.rabbitmq.reply-to gets this channel's own
   * reply-to name instead, so replies come straight back to its reply consumer.
   */
  private rewriteReplyTo(): void {
    if (readReplyTo(this.properties, 0, this.propertiesBytes) !== REPLY_QUEUE) return;
    if (!this.replies.isConsuming) {
      throw channelError(
        PRECONDITION_FAILED,
        'fast reply consumer does not exist',
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
    const decoded = decodeProperties(this.properties, 0, this.propertiesBytes, undefined, true);
    decoded.replyTo = this.replies.replyName;
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
    writeMessageBlock(
      block,
      0,
      this.head,
      this.headBytes,
      this.properties,
      this.propertiesBytes,
      body,
      bodyStart,
      bodyEnd,
    );
    return block;
  }

  /** Writes one publish record per shard that holds any of `queues`. */
  private sendToShards(
    queues: readonly QueueRecord[],
    flags: number,
    confirmSeq: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): void {
    const channel = this.channel;
    const links = channel.services.links;
    const outgoing = this.outgoing.setMessage(
      this.head,
      this.headBytes,
      this.properties,
      this.propertiesBytes,
      body,
      bodyStart,
      bodyEnd,
    );
    outgoing.connectionId = channel.connection.connectionId;
    outgoing.channelId = channel.channelId;
    outgoing.flags = flags;
    outgoing.confirmSeq = confirmSeq;
    const ids = queueIdScratchFor(queues.length);
    if (queues.length === 1) {
      const queue = queues[0]!;
      ids[0] = queue.queueId;
      links[queue.shardIndex]!.publish(outgoing, ids, 1);
      return;
    }
    let remaining = shardMaskOf(queues);
    while (remaining !== 0) {
      const shardIndex = 31 - Math.clz32(remaining);
      remaining &= ~(1 << shardIndex);
      let count = 0;
      for (let i = 0; i < queues.length; i++) {
        const queue = queues[i]!;
        if (queue.shardIndex === shardIndex) ids[count++] = queue.queueId;
      }
      links[shardIndex]!.publish(outgoing, ids, count);
    }
  }

  private checkWritable(exchangeName: string): void {
    const channel = this.channel;
    const access = channel.services.access;
    if (this.permissionVersion !== access.version) {
      this.permissionVersion = access.version;
      this.writableExchanges.clear();
    }
    if (this.writableExchanges.has(exchangeName)) return;
    channel.connection.checkPermission(
      'write',
      'exchange',
      exchangeName,
      CLASS_BASIC,
      METHOD_BASIC_PUBLISH,
    );
    this.writableExchanges.add(exchangeName);
  }

  // ---------------------------------------------------------------- confirms

  /** A shard settled publishes up to `confirmSeq`. */
  onShardConfirm(shardIndex: number, confirmSeq: number): void {
    const confirms = this.confirms;
    if (confirms === null || this.channel.isClosing) return;
    confirms.settle(shardIndex, confirmSeq);
    this.sendConfirms();
  }

  /** A queue refused publish `confirmSeq` (x-overflow reject-publish): it will be nacked. */
  onShardReject(confirmSeq: number): void {
    if (this.confirms === null || this.channel.isClosing) return;
    this.confirms.reject(confirmSeq);
  }

  private sendConfirms(): void {
    const confirms = this.confirms!;
    const highest = confirms.advance();
    if (highest === 0) return;
    this.confirmedCount += confirms.advancedCount;
    const { connection, channelId } = this.channel;
    const rejected = confirms.rejected;
    if (rejected.size === 0) {
      connection.sendMethod(channelId, {
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
      connection.sendMethod(
        channelId,
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
