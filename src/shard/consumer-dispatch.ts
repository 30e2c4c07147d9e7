// Consumers and their deliveries: picks a consumer for each ready message within prefetch,
// channel credit and connection flow, writes the deliveries, and settles (acks, rejects,
// requeues) the unacked ones. Shard thread only. Delivery ids are the shard's own, one counter
// for consumers and basic.get alike; the network thread maps them to per-channel delivery tags.
// Invariant: each unacked delivery is in exactly one channel's unacked map, and counted once in
// its queue's, its consumer's and its channel's unacked counts.

import { assert } from '../util/index.js';
import type { ActiveQueues } from './active-queues.js';
import type { ChannelCredit } from './channel-credit.js';
import { isLogged, type MessageMemory } from './message-memory.js';
import type { MessageStore } from './message-store.js';
import { type Consumer, Delivery, type Queue, type QueueEntry, ShardChannel } from './queue.js';
import type { QueueRules } from './queue-rules.js';
import type { QueueTimers } from './queue-timers.js';
import {
  channelKey,
  DEAD_LETTER_REJECTED,
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  readChannelId,
  readConnectionId,
  readSettleAction,
  readSettleCount,
  readSettleDeliveryId,
  SETTLE_ACK,
  SETTLE_DISCARD,
  SETTLE_REQUEUE,
} from './records.js';
import type { ShardEvents } from './shard-events.js';

/** Deliveries one queue makes before the next active queue gets a turn. */
const DELIVERIES_PER_TURN = 128;

export class ConsumerDispatch {
  /** Consumers by consumer id (ids are the network thread's, unique across shards). */
  readonly consumers = new Map<number, Consumer>();
  private nextDeliveryId = 1;
  private readonly channels: Map<number, ShardChannel>;
  private readonly pausedConnections: Set<number>;
  private readonly active: ActiveQueues;
  private readonly credit: ChannelCredit;
  private readonly rules: QueueRules;
  private readonly timers: QueueTimers;
  private readonly memory: MessageMemory;
  private readonly store: MessageStore | null;
  private readonly events: ShardEvents;

  /** `channels` and `pausedConnections` are the shard's own, shared with the queue rules. */
  constructor(
    channels: Map<number, ShardChannel>,
    pausedConnections: Set<number>,
    active: ActiveQueues,
    credit: ChannelCredit,
    rules: QueueRules,
    timers: QueueTimers,
    memory: MessageMemory,
    store: MessageStore | null,
    events: ShardEvents,
  ) {
    this.channels = channels;
    this.pausedConnections = pausedConnections;
    this.active = active;
    this.credit = credit;
    this.rules = rules;
    this.timers = timers;
    this.memory = memory;
    this.store = store;
    this.events = events;
  }

  /** Whether there is delivery work left that a later turn should do. */
  hasWork(): boolean {
    return this.active.length > 0 && !this.events.isBlocked;
  }

  /** Delivers from the active queues, a turn each, until none can or the event ring is full. */
  dispatch(): void {
    const active = this.active;
    const queues = active.queues;
    let index = 0;
    while (index < queues.length) {
      if (this.events.isBlocked) break;
      const isDone = this.dispatchQueue(queues[index]!);
      if (isDone) active.removeAt(index);
      else index++;
    }
  }

  /** Delivers from one queue for one turn; true when it has nothing more it can deliver now. */
  private dispatchQueue(queue: Queue): boolean {
    if (queue.isDeleted) return true;
    for (let delivered = 0; delivered < DELIVERIES_PER_TURN; delivered++) {
      if (queue.hasExpiringEntries) this.rules.dropExpiredHead(queue);
      if (queue.readyCount === 0) return true;
      const consumer = queue.nextConsumerWithCredit(this.pausedConnections);
      if (consumer === null) {
        if (this.credit.hasLimitedChannels) this.credit.requestFor(queue);
        if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
        return true;
      }
      if (this.events.isBlocked) return false;
      this.deliver(queue, queue.take()!, consumer);
    }
    return false;
  }

  private deliver(queue: Queue, entry: QueueEntry, consumer: Consumer): void {
    const deliveryId = this.nextDeliveryId++;
    queue.deliveredCount++;
    const channel = consumer.channel;
    const usesCredit = channel.isCreditLimited && !consumer.isNoAck;
    if (usesCredit) channel.credit--;
    this.events.deliver(
      channel.connectionId,
      channel.channelId,
      consumer.consumerId,
      deliveryId,
      (entry.deliveryCount > 0 ? DELIVER_FLAG_REDELIVERED : 0) |
        (usesCredit ? DELIVER_FLAG_USED_CREDIT : 0),
      this.memory.blockOf(entry),
    );
    if (consumer.isNoAck) {
      this.memory.forget(queue, entry);
      return;
    }
    // So a restart marks it redelivered if it is never acked (a hint: losing it is harmless).
    if (isLogged(queue, entry)) this.store!.delivered(queue.queueId, entry.seq);
    consumer.unackedCount++;
    channel.consumerUnackedCount++;
    queue.unackedCount++;
    channel.unacked.set(deliveryId, new Delivery(entry, queue, consumer, deliveryId));
  }

  /**
   * basic.get: takes the queue's head (if any) and answers with it, else with an empty reply;
   * in ack mode the copy stays unacked on the channel.
   */
  get(
    requestId: number,
    queue: Queue,
    connectionId: number,
    channelId: number,
    isNoAck: boolean,
  ): void {
    if (queue.hasExpiringEntries) this.rules.dropExpiredHead(queue);
    const entry = queue.take();
    // The head changed: the timer must stand for the new one.
    if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
    if (entry === undefined) return this.events.reply(requestId, 0, 0);
    const deliveryId = this.nextDeliveryId++;
    queue.deliveredCount++;
    this.events.getOk(
      requestId,
      deliveryId,
      entry.deliveryCount > 0,
      queue.readyCount,
      this.memory.blockOf(entry),
    );
    if (isNoAck) {
      this.memory.forget(queue, entry);
      return;
    }
    if (isLogged(queue, entry)) this.store!.delivered(queue.queueId, entry.seq);
    const channel = this.channelFor(connectionId, channelId);
    queue.unackedCount++;
    channel.unacked.set(deliveryId, new Delivery(entry, queue, null, deliveryId));
  }

  /** A CMD_SETTLE payload at `start`: acks, rejects or requeues its channel's deliveries. */
  settle(bytes: Buffer, start: number): void {
    const key = channelKey(readConnectionId(bytes, start), readChannelId(bytes, start));
    const action = readSettleAction(bytes, start);
    const count = readSettleCount(bytes, start);
    const channel = this.channels.get(key);
    if (channel === undefined) return;
    for (let i = 0; i < count; i++) {
      const delivery = channel.unacked.get(readSettleDeliveryId(bytes, start, i));
      if (delivery === undefined) continue;
      this.release(channel, delivery);
      if (action === SETTLE_REQUEUE) {
        this.rules.requeue(delivery.queue, delivery.entry);
        continue;
      }
      assert(action === SETTLE_ACK || action === SETTLE_DISCARD, `bad settle action ${action}`);
      delivery.queue.ackedCount++;
      // basic.reject / basic.nack with requeue=false: dead-lettered with reason "rejected".
      if (action === SETTLE_DISCARD)
        this.rules.dropEntry(delivery.queue, delivery.entry, DEAD_LETTER_REJECTED);
      else this.memory.forget(delivery.queue, delivery.entry);
    }
  }

  /** Forgets an unacked delivery on its channel and returns its consumer's credit. */
  private release(channel: ShardChannel, delivery: Delivery): void {
    channel.unacked.delete(delivery.deliveryId);
    delivery.queue.unackedCount--;
    const consumer = delivery.consumer;
    if (consumer !== null) {
      consumer.unackedCount--;
      channel.consumerUnackedCount--;
      if (!consumer.isCancelled) this.active.activate(consumer.queue);
    }
  }

  /** Requeues every unacked delivery of a channel, oldest first (basic.recover, close). */
  requeueAll(channel: ShardChannel): void {
    for (const delivery of channel.unacked.values()) {
      const consumer = delivery.consumer;
      if (consumer !== null) {
        consumer.unackedCount--;
        channel.consumerUnackedCount--;
      }
      delivery.queue.unackedCount--;
      this.rules.requeue(delivery.queue, delivery.entry);
    }
    channel.unacked.clear();
    for (const consumer of channel.consumers) this.active.activate(consumer.queue);
  }

  /** The shard's view of a channel, made on first use. */
  channelFor(connectionId: number, channelId: number): ShardChannel {
    const key = channelKey(connectionId, channelId);
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = new ShardChannel(key, connectionId, channelId);
      this.channels.set(key, channel);
    }
    return channel;
  }

  /** Registers a consumer (basic.consume) and lets its queue deliver. */
  addConsumer(consumer: Consumer): void {
    this.consumers.set(consumer.consumerId, consumer);
    consumer.channel.consumers.add(consumer);
    consumer.queue.addConsumer(consumer);
    this.active.activate(consumer.queue);
  }

  /** basic.cancel: the consumer gets nothing more; its unacked deliveries stay on its channel. */
  cancel(consumerId: number): void {
    const consumer = this.consumers.get(consumerId);
    if (consumer === undefined) return;
    this.dropConsumer(consumer);
    consumer.queue.removeConsumer(consumer);
  }

  /** A consumer leaves its channel and the shard (its queue's list is the caller's). */
  dropConsumer(consumer: Consumer): void {
    consumer.isCancelled = true;
    consumer.channel.consumers.delete(consumer);
    this.consumers.delete(consumer.consumerId);
  }

  /** channel.close: cancels its consumers and requeues its unacked deliveries. */
  closeChannel(connectionId: number, channelId: number): void {
    const channel = this.channels.get(channelKey(connectionId, channelId));
    if (channel === undefined) return;
    for (const consumer of channel.consumers) {
      consumer.isCancelled = true;
      consumer.queue.removeConsumer(consumer);
      this.consumers.delete(consumer.consumerId);
    }
    channel.consumers.clear();
    this.requeueAll(channel);
    this.channels.delete(channel.key);
    this.credit.forget(channel);
  }

  /** basic.recover: requeues the channel's unacked deliveries. */
  recoverChannel(connectionId: number, channelId: number): void {
    const channel = this.channels.get(channelKey(connectionId, channelId));
    if (channel !== undefined) this.requeueAll(channel);
  }

  /** basic.qos global: the channel's consumers pay (or stop paying) for deliveries in credit. */
  setChannelCreditLimited(connectionId: number, channelId: number, isLimited: boolean): void {
    const channel = this.channelFor(connectionId, channelId);
    this.credit.setLimited(channel, isLimited);
    for (const consumer of channel.consumers) this.active.activate(consumer.queue);
  }

  /** CMD_CREDIT: credit for a channel's channel-wide prefetch. */
  addCredit(connectionId: number, channelId: number, amount: number): void {
    this.credit.add(this.channels.get(channelKey(connectionId, channelId)), amount);
  }

  /** CMD_CONNECTION_FLOW: a congested connection's consumers wait until it drains. */
  connectionFlow(connectionId: number, isPaused: boolean): void {
    if (isPaused) {
      this.pausedConnections.add(connectionId);
      return;
    }
    this.pausedConnections.delete(connectionId);
    for (const consumer of this.consumers.values()) {
      if (consumer.channel.connectionId === connectionId) this.active.activate(consumer.queue);
    }
  }
}
