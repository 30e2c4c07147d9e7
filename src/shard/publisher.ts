// The publish path: applies a CMD_PUBLISH payload to the queues it names, logs persistent
// messages in durable queues once (one record for all their copies), and queues the publish's
// confirm behind the log append it needs. Shard thread only. Hand-written hot path: one block
// copy per message per shard, no other allocation on the plain path.

import type { ActiveQueues } from './active-queues.js';
import type { MessageMemory } from './message-memory.js';
import type { MessageStore } from './message-store.js';
import type { PendingConfirms } from './pending-confirms.js';
import { expiresAtOf, type Queue, type QueueEntry } from './queue.js';
import type { QueueRules } from './queue-rules.js';
import {
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_EXPIRATION,
  PUBLISH_FLAG_PERSISTENT,
  publishBlockStart,
  readChannelId,
  readConnectionId,
  readPublishConfirmSeq,
  readPublishFlags,
  readPublishQueueCount,
  readPublishQueueId,
} from './records.js';
import type { ShardEvents } from './shard-events.js';
import { StoredMessage } from './stored-message.js';

export class Publisher {
  private readonly queues: ReadonlyMap<number, Queue>;
  private readonly store: MessageStore | null;
  private readonly memory: MessageMemory;
  private readonly rules: QueueRules;
  private readonly active: ActiveQueues;
  private readonly pendingConfirms: PendingConfirms;
  private readonly events: ShardEvents;
  /** While applying a transaction record: the messages it logged. */
  private transactionMessages: StoredMessage[] | null = null;

  constructor(
    queues: ReadonlyMap<number, Queue>,
    store: MessageStore | null,
    memory: MessageMemory,
    rules: QueueRules,
    active: ActiveQueues,
    pendingConfirms: PendingConfirms,
    events: ShardEvents,
  ) {
    this.queues = queues;
    this.store = store;
    this.memory = memory;
    this.rules = rules;
    this.active = active;
    this.pendingConfirms = pendingConfirms;
    this.events = events;
  }

  /** From now until endTransaction(), logged messages are the transaction's, not on their own. */
  beginTransaction(): void {
    this.transactionMessages = [];
  }

  /** The messages logged since beginTransaction(). */
  endTransaction(): StoredMessage[] {
    const messages = this.transactionMessages!;
    this.transactionMessages = null;
    return messages;
  }

  /** Applies the CMD_PUBLISH payload in `bytes[start..end)`. */
  publish(bytes: Buffer, start: number, end: number): void {
    const connectionId = readConnectionId(bytes, start);
    const channelId = readChannelId(bytes, start);
    const flags = readPublishFlags(bytes, start);
    const confirmSeq = readPublishConfirmSeq(bytes, start);
    const queueCount = readPublishQueueCount(bytes, start);
    const blockStart = publishBlockStart(start, queueCount);
    const isPersistent = (flags & PUBLISH_FLAG_PERSISTENT) !== 0 && this.store !== null;
    const hasExpiration = (flags & PUBLISH_FLAG_EXPIRATION) !== 0;
    const refs = this.memory.copyRefs;
    let message: StoredMessage | null = null;
    let durableCount = 0;
    let isTimed = false;
    this.rules.isPublishRejected = false;
    for (let i = 0; i < queueCount; i++) {
      const queue = this.queues.get(readPublishQueueId(bytes, start, i));
      // A queue deleted after the network thread routed to it simply misses the message.
      if (queue === undefined) continue;
      if (message === null) {
        const block = Buffer.allocUnsafe(end - blockStart);
        bytes.copy(block, 0, blockStart, end);
        message = new StoredMessage(block);
      }
      let entry: QueueEntry;
      if (queue.features === null && !hasExpiration) {
        this.memory.holdCopy(message);
        entry = queue.enqueue(message);
      } else {
        // TTL, length limits, dead-lettering: off the plain path.
        const timed = this.rules.enqueueWithFeatures(queue, message, hasExpiration);
        if (timed === null) continue;
        entry = timed;
        if (timed.expiresAtMs !== Infinity) isTimed = true;
      }
      if (isPersistent && queue.spec.isDurable) {
        // RabbitMQ's rule: only persistent messages in durable queues survive a restart.
        if (durableCount === refs.queueIds.length) refs.grow();
        refs.queueIds[durableCount] = queue.queueId;
        refs.seqs[durableCount] = entry.seq;
        refs.expiries[durableCount] = expiresAtOf(entry);
        durableCount++;
      }
      if (queue.consumers.length > 0) this.active.activate(queue);
    }
    if (this.rules.isPublishRejected && (flags & PUBLISH_FLAG_CONFIRM) !== 0)
      this.events.reject(connectionId, channelId, confirmSeq);
    let needSeq = 0;
    if (durableCount > 0) {
      message!.appendSeq = needSeq = this.store!.logMessage(
        message!,
        message!.block!,
        refs.queueIds,
        refs.seqs,
        durableCount,
        isTimed ? refs.expiries : null,
      );
      if (this.transactionMessages !== null) this.transactionMessages.push(message!);
      else this.memory.awaitDurability(message!);
    } else if (message !== null) {
      this.memory.offerUnlogged(message);
    }
    if ((flags & PUBLISH_FLAG_CONFIRM) !== 0) {
      if (needSeq > 0) this.store!.log.requestSync();
      this.pendingConfirms.push(needSeq, connectionId, channelId, confirmSeq);
    }
  }
}
