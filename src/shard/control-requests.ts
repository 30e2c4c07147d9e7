// The rare requests the network thread sends as CMD_CONTROL (queue lifecycle, consumers, channel
// state, basic.get, durable definitions, recovery), each answered by one EVT_REPLY (or
// EVT_GET_OK). Shard thread only. Requests are applied in ring order, between the publishes and
// settles around them, so a reply covers everything the network thread sent before it.

import type { ChannelCredit } from './channel-credit.js';
import type { ConsumerDispatch } from './consumer-dispatch.js';
import type { DurableReplies } from './durable-replies.js';
import type { MessageMemory } from './message-memory.js';
import type { DefinitionRecord, MessageStore } from './message-store.js';
import { Consumer, expiresAtOf, Queue, type QueueEntry, TimedQueueEntry } from './queue.js';
import type { QueueRules } from './queue-rules.js';
import type { QueueTimers } from './queue-timers.js';
import type { ActiveQueues } from './active-queues.js';
import type { ControlRequest } from './records.js';
import type { ShardEvents } from './shard-events.js';

const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;

export class ControlRequests {
  private readonly queues: Map<number, Queue>;
  private readonly store: MessageStore | null;
  private readonly memory: MessageMemory;
  private readonly rules: QueueRules;
  private readonly timers: QueueTimers;
  private readonly active: ActiveQueues;
  private readonly dispatch: ConsumerDispatch;
  private readonly credit: ChannelCredit;
  private readonly replies: DurableReplies;
  private readonly events: ShardEvents;

  /** `queues` is the shard's own map: this is where queues are created and deleted. */
  constructor(
    queues: Map<number, Queue>,
    store: MessageStore | null,
    memory: MessageMemory,
    rules: QueueRules,
    timers: QueueTimers,
    active: ActiveQueues,
    dispatch: ConsumerDispatch,
    credit: ChannelCredit,
    replies: DurableReplies,
    events: ShardEvents,
  ) {
    this.queues = queues;
    this.store = store;
    this.memory = memory;
    this.rules = rules;
    this.timers = timers;
    this.active = active;
    this.dispatch = dispatch;
    this.credit = credit;
    this.replies = replies;
    this.events = events;
  }

  private reply(requestId: number, replyCode: number, value: number, replyText = ''): void {
    this.events.reply(requestId, replyCode, value, replyText);
  }

  handle(requestId: number, request: ControlRequest): void {
    switch (request.op) {
      case 'queue.create': {
        let queue = this.queues.get(request.queue.queueId);
        let recovered = 0;
        if (queue === undefined) {
          queue = new Queue(request.queue);
          this.queues.set(queue.queueId, queue);
          // A durable queue coming back after a restart takes the copies its log kept.
          if (this.store !== null && queue.spec.isDurable) {
            for (const claimed of this.store.claimRecovered(queue.queueId)) {
              const copy = this.recoveredEntry(queue, claimed);
              this.memory.holdRecoveredCopy(copy.message);
              queue.restore(copy);
              recovered++;
            }
            // Copies that expired while the broker was down go at the first timer run.
            if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
          }
        }
        this.reply(requestId, 0, recovered);
        return;
      }
      case 'recovery.done':
        // Whatever no durable queue claimed belongs to queues deleted while we were down.
        this.store?.discardUnclaimed();
        return this.reply(requestId, 0, 0);
      case 'definition.put': {
        if (this.store === null) return this.reply(requestId, 0, 0);
        const needSeq = this.store.putDefinition(request.record as DefinitionRecord);
        return this.replies.replyWhenDurable(requestId, needSeq, 0, false);
      }
      case 'queue.delete': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, 0, 0);
        // RabbitMQ checks if-empty first, then if-unused.
        const name = `queue '${queue.spec.name}' in vhost '${queue.spec.vhost}'`;
        if (request.isIfEmpty && queue.readyCount > 0) {
          return this.reply(requestId, PRECONDITION_FAILED, 0, `${name} not empty`);
        }
        if (request.isIfUnused && queue.consumers.length > 0) {
          return this.reply(requestId, PRECONDITION_FAILED, 0, `${name} in use`);
        }
        const ready = queue.purge();
        queue.isDeleted = true;
        for (const consumer of queue.consumers) this.dispatch.dropConsumer(consumer);
        this.queues.delete(request.queueId);
        // One record settles every durable copy; unacked ones are forgotten when they come back.
        if (queue.spec.isDurable && this.store !== null) this.store.queueDeleted(queue.queueId);
        for (const entry of ready) this.memory.forget(queue, entry);
        return this.reply(requestId, 0, ready.length);
      }
      case 'queue.arguments': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, 0, 0);
        queue.applyArguments(request.arguments);
        this.rules.enforceLengthLimit(queue);
        if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
        if (queue.consumers.length > 0) this.active.activate(queue);
        return this.reply(requestId, 0, 0);
      }
      case 'queue.purge': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, 0, 0);
        const purged = queue.purge();
        for (const entry of purged) this.memory.forget(queue, entry);
        return this.reply(requestId, 0, purged.length);
      }
      case 'queue.stats': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
        if (queue.hasExpiringEntries) this.rules.dropExpiredHead(queue);
        return this.reply(requestId, 0, queue.readyCount);
      }
      case 'consume': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
        const channel = this.dispatch.channelFor(request.connectionId, request.channelId);
        this.credit.setLimited(channel, request.isChannelCreditLimited);
        this.dispatch.addConsumer(
          new Consumer(
            request.consumerId,
            queue,
            channel,
            request.prefetchCount,
            request.isNoAck,
            request.priority,
          ),
        );
        return this.reply(requestId, 0, 0);
      }
      case 'cancel':
        this.dispatch.cancel(request.consumerId);
        return this.reply(requestId, 0, 0);
      case 'get': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
        return this.dispatch.get(
          requestId,
          queue,
          request.connectionId,
          request.channelId,
          request.isNoAck,
        );
      }
      case 'channel.qos':
        this.dispatch.setChannelCreditLimited(
          request.connectionId,
          request.channelId,
          request.isCreditLimited,
        );
        return this.reply(requestId, 0, 0);
      case 'channel.close':
        this.dispatch.closeChannel(request.connectionId, request.channelId);
        return this.reply(requestId, 0, 0);
      case 'channel.recover':
        this.dispatch.recoverChannel(request.connectionId, request.channelId);
        return this.reply(requestId, 0, 0);
      case 'barrier':
        return this.reply(requestId, 0, 0);
    }
  }

  /** A recovered copy as its queue needs it: with its priority in a priority queue. */
  private recoveredEntry(queue: Queue, copy: QueueEntry): QueueEntry {
    if (queue.maxPriority === 0) return copy;
    const message = copy.message;
    const block = message.block ?? this.store!.readBlock(message);
    const entry = new TimedQueueEntry(
      message,
      copy.seq,
      expiresAtOf(copy),
      this.rules.priorityIn(queue, block),
    );
    entry.deliveryCount = copy.deliveryCount;
    return entry;
  }
}
