// The consuming side of one channel: basic.qos (per consumer and channel-wide, the latter paid
// for with credit the channel hands to shards), basic.consume/cancel/get, the deliveries shards
// make to its consumers, and settling them (ack, nack, reject, recover) in one record per shard.
// Network thread only. The channel-wide prefetch is owned here: credit held by shards plus
// unacked consumer deliveries never exceed it.

import { type AmqpMethod } from '../codec/index.js';
import {
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  MessageBlockView,
  SETTLE_ACK,
  SETTLE_REQUEUE,
} from '../shard/api.js';
import { checkExclusiveAccess, type ChannelContext, queueNamed } from './channel-context.js';
import type { CreditReturn } from './channel-transaction.js';
import { ChannelConsumer, type ConsumerChannel } from './consumer.js';
import { writeBasicDeliver, writeBasicGetOk, writeContent } from './content-frames.js';
import type { SettledDeliverySink } from './delivery-tags.js';
import { type DirectReplyTo, REPLY_QUEUE } from './direct-reply-to.js';
import type { QueueRecord } from './exchange.js';
import { serverGeneratedName } from './net-services.js';
import { channelError, connectionError, resourceName } from './protocol-errors.js';

const ACCESS_REFUSED = 403;
const PRECONDITION_FAILED = 406;
const NOT_ALLOWED = 530;
const NOT_IMPLEMENTED = 540;

/** How a settle names itself in errors: basic.ack, basic.nack or basic.reject. */
const SETTLE_METHOD_IDS: Record<string, number> = {
  'basic.ack': 80,
  'basic.nack': 120,
  'basic.reject': 90,
};

export class ChannelConsuming implements SettledDeliverySink, CreditReturn {
  /** The consumer tags of this channel. */
  readonly consumers = new Map<string, ChannelConsumer>();
  deliveredCount = 0;
  ackedCount = 0;
  private readonly channel: ChannelContext & ConsumerChannel;
  private readonly replies: DirectReplyTo;
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
  // Per-shard scratch for batching settles into one record per shard.
  private readonly settleIds: Float64Array[];
  private readonly settleCounts: Int32Array;
  private settleAction = SETTLE_ACK;
  private readonly view = new MessageBlockView();
  /** The oldest unacked tag the consumer-timeout check saw, and since when. */
  private watchedTag = 0;
  private watchedSinceMs = 0;

  constructor(channel: ChannelContext & ConsumerChannel, replies: DirectReplyTo) {
    this.channel = channel;
    this.replies = replies;
    const shardCount = channel.services.links.length;
    // Small to start: most channels settle a few at a time; busy ones grow it once.
    this.settleIds = Array.from({ length: shardCount }, () => new Float64Array(16));
    this.settleCounts = new Int32Array(shardCount);
    this.creditGranted = new Int32Array(shardCount);
  }

  /** The per-consumer prefetch (basic.qos global=false). */
  get prefetchCount(): number {
    return this.consumerPrefetch;
  }

  /** The channel-wide prefetch (basic.qos global=true). */
  get globalPrefetchCount(): number {
    return this.globalPrefetch;
  }

  // ---------------------------------------------------------------- qos and credit

  basicQos(method: Extract<AmqpMethod, { method: 'basic.qos' }>): void {
    const channel = this.channel;
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
        const links = channel.services.links;
        for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
          if ((this.touchedShards & (1 << shardIndex)) === 0) continue;
          links[shardIndex]!.control(
            {
              op: 'channel.qos',
              connectionId: channel.connection.connectionId,
              channelId: channel.channelId,
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
    channel.connection.sendMethod(channel.channelId, { method: 'basic.qos-ok' });
  }

  /**
   * Hands out channel credit for a channel-wide prefetch (basic.qos global=true). A shard asks
   * when a consumer here could take a message but for credit, spends one unit per delivery,
   * and gives back what it holds while it has nothing to deliver. So any single consumer can
   * use the whole limit and the shards never exceed it together.
   */
  grantCredit(): void {
    const limit = this.globalPrefetch;
    if (limit === 0 || this.creditRequests === 0) return;
    let held = 0;
    for (let i = 0; i < this.creditGranted.length; i++) held += this.creditGranted[i]!;
    let available = limit - this.limitedUnacked - held;
    if (available <= 0) return;
    let askers = 0;
    for (let requests = this.creditRequests; requests !== 0; requests &= requests - 1) askers++;
    const channel = this.channel;
    const links = channel.services.links;
    for (let shardIndex = 0; shardIndex < links.length && available > 0; shardIndex++) {
      if ((this.creditRequests & (1 << shardIndex)) === 0) continue;
      const amount = Math.max(1, Math.floor(available / askers));
      askers--;
      available -= amount;
      this.creditRequests &= ~(1 << shardIndex);
      this.creditGranted[shardIndex]! += amount;
      links[shardIndex]!.credit(channel.connection.connectionId, channel.channelId, amount);
    }
  }

  /** CreditReturn: a settled delivery no longer counts toward the channel-wide prefetch. */
  releaseLimited(): void {
    this.limitedUnacked--;
  }

  /** A shard asks for credit (amount 0) or gives unused credit back. */
  onShardCredit(shardIndex: number, amount: number): void {
    if (this.channel.isClosing) return;
    if (amount === 0) this.creditRequests |= 1 << shardIndex;
    else this.creditGranted[shardIndex]! -= amount;
    this.grantCredit();
  }

  // ---------------------------------------------------------------- consumers

  basicConsume(method: Extract<AmqpMethod, { method: 'basic.consume' }>): void {
    const channel = this.channel;
    const { connection, services, vhost } = channel;
    const queueName = queueNamed(channel, method.queue, 60, 20);
    if (queueName === REPLY_QUEUE) {
      this.replies.consume(method, (tag) => this.consumers.has(tag));
      return;
    }
    connection.checkPermission('read', 'queue', queueName, 60, 20);
    const queue = vhost.queueOrThrow(queueName);
    checkExclusiveAccess(channel, queue, 60, 20);
    let tag = method.consumerTag;
    if (tag === '') tag = serverGeneratedName('amq.ctag-');
    else if (this.consumers.has(tag)) {
      throw connectionError(NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, 60, 20);
    }
    const priority = consumerPriority(method.arguments['x-priority'], queue);
    if (queue.hasExclusiveConsumer || (method.exclusive && queue.consumers.size > 0)) {
      throw channelError(
        ACCESS_REFUSED,
        `queue '${queueName}' in vhost '${vhost.name}' in exclusive use`,
        60,
        20,
      );
    }
    const consumer = new ChannelConsumer(
      services.consumers.nextId(),
      tag,
      queue,
      { isExclusive: method.exclusive, isNoAck: method.noAck },
      channel,
    );
    this.consumers.set(tag, consumer);
    queue.consumers.add(consumer);
    queue.hasHadConsumer = true;
    services.queues.touchQueue(queue);
    services.consumers.byId.set(consumer.consumerId, consumer);
    this.touchedShards |= 1 << queue.shardIndex;
    services.links[queue.shardIndex]!.control(
      {
        op: 'consume',
        queueId: queue.queueId,
        consumerId: consumer.consumerId,
        connectionId: connection.connectionId,
        channelId: channel.channelId,
        prefetchCount: this.consumerPrefetch,
        isNoAck: method.noAck,
        isChannelCreditLimited: this.globalPrefetch > 0,
        priority,
      },
      method.noWait
        ? null
        : {
            onReply: () => {
              if (!channel.isClosing)
                connection.sendMethod(channel.channelId, {
                  method: 'basic.consume-ok',
                  consumerTag: tag,
                });
            },
          },
    );
  }

  basicCancel(tag: string, isNoWait: boolean): void {
    const channel = this.channel;
    const { connection, services } = channel;
    if (this.replies.isConsumerTag(tag)) {
      this.replies.stop();
      if (!isNoWait)
        connection.sendMethod(channel.channelId, { method: 'basic.cancel-ok', consumerTag: tag });
      return;
    }
    const consumer = this.consumers.get(tag);
    if (consumer === undefined) {
      if (!isNoWait)
        connection.sendMethod(channel.channelId, { method: 'basic.cancel-ok', consumerTag: tag });
      return;
    }
    this.consumers.delete(tag);
    services.links[consumer.queue.shardIndex]!.control(
      { op: 'cancel', consumerId: consumer.consumerId },
      {
        onReply: () => {
          // Deliveries the shard made before the cancel still reach the client; none after.
          services.consumers.byId.delete(consumer.consumerId);
          if (!isNoWait && !channel.isClosing)
            connection.sendMethod(channel.channelId, {
              method: 'basic.cancel-ok',
              consumerTag: tag,
            });
        },
      },
    );
    services.queues.detachConsumer(consumer);
  }

  /** The server cancels a consumer because its queue is gone: it is forgotten at once. */
  cancelFromServer(consumer: ChannelConsumer): void {
    this.consumers.delete(consumer.tag);
    this.channel.services.consumers.byId.delete(consumer.consumerId);
  }

  /** basic.cancel from the server, for clients that asked (consumer_cancel_notify). */
  sendServerCancel(consumer: ChannelConsumer): void {
    const channel = this.channel;
    if (channel.isClosing || !channel.connection.capabilities.consumerCancelNotify) return;
    channel.connection.sendMethod(channel.channelId, {
      method: 'basic.cancel',
      consumerTag: consumer.tag,
      noWait: true,
    });
  }

  basicGet(queueNameGiven: string, isNoAck: boolean): void {
    const channel = this.channel;
    const { connection, services } = channel;
    const queueName = queueNamed(channel, queueNameGiven, 60, 70);
    connection.checkPermission('read', 'queue', queueName, 60, 70);
    const queue = channel.vhost.queueOrThrow(queueName);
    checkExclusiveAccess(channel, queue, 60, 70);
    services.queues.touchQueue(queue);
    const shardIndex = queue.shardIndex;
    this.touchedShards |= 1 << shardIndex;
    const view = this.view;
    services.links[shardIndex]!.control(
      {
        op: 'get',
        queueId: queue.queueId,
        connectionId: connection.connectionId,
        channelId: channel.channelId,
        isNoAck,
      },
      {
        onReply: () => {
          if (!channel.isClosing)
            connection.sendMethod(channel.channelId, { method: 'basic.get-empty' });
        },
        onGetOk: (deliveryId, isRedelivered, messageCount, bytes, start, end) => {
          // The shard recorded the delivery on this channel; a closed channel's is requeued there.
          if (channel.isClosing) return;
          const tag = channel.deliveryTags.assign(!isNoAck, shardIndex, deliveryId);
          this.deliveredCount++;
          view.read(bytes, start, end);
          const out = connection.out;
          writeBasicGetOk(out, channel.channelId, tag, isRedelivered, messageCount, bytes, view);
          writeContent(
            out,
            channel.channelId,
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

  // ---------------------------------------------------------------- deliveries from shards

  /** A shard delivered to one of this channel's consumers: basic.deliver + content. Hot path. */
  deliver(
    consumer: ChannelConsumer,
    shardIndex: number,
    deliveryId: number,
    flags: number,
    block: Buffer,
    view: MessageBlockView,
  ): void {
    const channel = this.channel;
    this.touchedShards |= 1 << shardIndex;
    if ((flags & DELIVER_FLAG_USED_CREDIT) !== 0) this.creditGranted[shardIndex]!--;
    let deliveryTag: number;
    if (consumer.isNoAck) {
      deliveryTag = channel.deliveryTags.assign(false, shardIndex, deliveryId);
    } else {
      this.limitedUnacked++;
      deliveryTag = channel.deliveryTags.assign(true, shardIndex, deliveryId, true);
    }
    const connection = channel.connection;
    const out = connection.out;
    this.deliveredCount++;
    writeBasicDeliver(
      out,
      channel.channelId,
      consumer.tagBytes,
      deliveryTag,
      (flags & DELIVER_FLAG_REDELIVERED) !== 0,
      block,
      view,
    );
    writeContent(
      out,
      channel.channelId,
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

  // ---------------------------------------------------------------- settling

  /** Throws RabbitMQ's 406 unless the tag (or, with multiple, tag 0 = all) is unacked. */
  checkUnacked(deliveryTag: number, isMultiple: boolean, methodName: string): void {
    if (isMultiple && deliveryTag === 0) return;
    if (this.channel.deliveryTags.isUnacked(deliveryTag)) return;
    throw channelError(
      PRECONDITION_FAILED,
      `unknown delivery tag ${deliveryTag}`,
      60,
      SETTLE_METHOD_IDS[methodName] ?? 80,
    );
  }

  /** Settles deliveries up to (or exactly) `deliveryTag` with a SETTLE_* action. Hot path. */
  settle(deliveryTag: number, isMultiple: boolean, action: number): void {
    const tags = this.channel.deliveryTags;
    this.settleAction = action;
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
    const channel = this.channel;
    const links = channel.services.links;
    const connectionId = channel.connection.connectionId;
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      const count = this.settleCounts[shardIndex]!;
      if (count === 0) continue;
      links[shardIndex]!.settle(
        connectionId,
        channel.channelId,
        this.settleAction,
        this.settleIds[shardIndex]!,
        count,
      );
      this.settleCounts[shardIndex] = 0;
    }
  }

  /** Requeues every unacked delivery of this channel (basic.recover). */
  requeueAll(): void {
    this.settleAction = SETTLE_REQUEUE;
    this.channel.deliveryTags.settleUpTo(0, this);
    this.flushSettles();
    this.grantCredit();
  }

  /**
   * RabbitMQ's consumer timeout, checked once a second: true when the same delivery has been
   * the oldest unacked one on this channel for `timeoutMs` (so it was delivered at least that
   * long ago). Costs nothing per delivery.
   */
  isAckOverdue(nowMs: number, timeoutMs: number): boolean {
    const oldest = this.channel.deliveryTags.oldestUnackedTag();
    if (oldest !== this.watchedTag) {
      this.watchedTag = oldest;
      this.watchedSinceMs = nowMs;
      return false;
    }
    return oldest !== 0 && nowMs - this.watchedSinceMs >= timeoutMs;
  }

  /**
   * The channel closed: its consumers leave their queues (auto-delete may follow), and every
   * shard it touched requeues its unacked deliveries in order and forgets it.
   */
  release(): void {
    const channel = this.channel;
    const services = channel.services;
    for (const consumer of this.consumers.values()) {
      services.consumers.byId.delete(consumer.consumerId);
      services.queues.detachConsumer(consumer);
    }
    this.consumers.clear();
    const links = services.links;
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      if ((this.touchedShards & (1 << shardIndex)) === 0) continue;
      links[shardIndex]!.control(
        {
          op: 'channel.close',
          connectionId: channel.connection.connectionId,
          channelId: channel.channelId,
        },
        null,
      );
    }
  }
}

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
