// What a queue's features do to its copies: TTL and expiry (x-message-ttl, the expiration
// property), length limits and their overflow behaviour, dead-lettering, priorities, and the
// delivery limit and retry delays of Warren's retry extension. Shard thread only. Plain queues
// (features null, no expiration) never come here on the publish path.

import { readDeliveryMode, readExpiration, readPriority } from '../codec/index.js';
import type { ActiveQueues } from './active-queues.js';
import type { BatchClock } from './batch-clock.js';
import { deadLetterBlock } from './dead-letter.js';
import { isLogged, type MessageMemory } from './message-memory.js';
import type { MessageStore } from './message-store.js';
import { type Queue, type QueueEntry, TimedQueueEntry } from './queue.js';
import { parseExpirationMs } from './queue-features.js';
import type { ExpiryHandler, QueueTimers } from './queue-timers.js';
import {
  DEAD_LETTER_DELIVERY_LIMIT,
  DEAD_LETTER_EXPIRED,
  DEAD_LETTER_MAXLEN,
  DEAD_LETTER_REASONS,
  MessageBlockView,
  PUBLISH_FLAG_PERSISTENT,
} from './records.js';
import type { ShardEvents } from './shard-events.js';
import type { StoredMessage } from './stored-message.js';

export class QueueRules implements ExpiryHandler {
  /** Set when a queue refused the copy being published (x-overflow reject-publish). */
  isPublishRejected = false;
  private readonly clock: BatchClock;
  private readonly store: MessageStore | null;
  private readonly memory: MessageMemory;
  private readonly events: ShardEvents;
  private readonly timers: QueueTimers;
  private readonly active: ActiveQueues;
  /** Connections whose sockets are congested: their consumers take nothing now. */
  private readonly pausedConnections: ReadonlySet<number>;
  private readonly blockView = new MessageBlockView();

  constructor(
    clock: BatchClock,
    store: MessageStore | null,
    memory: MessageMemory,
    events: ShardEvents,
    timers: QueueTimers,
    active: ActiveQueues,
    pausedConnections: ReadonlySet<number>,
  ) {
    this.clock = clock;
    this.store = store;
    this.memory = memory;
    this.events = events;
    this.timers = timers;
    this.active = active;
    this.pausedConnections = pausedConnections;
  }

  /**
   * Queues a copy in a queue with features, or a message with an expiration: applies the TTL
   * (the lower of x-message-ttl and the expiration property, as RabbitMQ), the length limit
   * and its overflow behaviour. Returns the entry, or null when the copy was refused, expired
   * at once or dropped at once (then dead-lettered where the queue says so).
   */
  enqueueWithFeatures(
    queue: Queue,
    message: StoredMessage,
    hasExpiration: boolean,
  ): TimedQueueEntry | null {
    const features = queue.features;
    const block = message.block!;
    let ttlMs = features === null ? -1 : features.messageTtlMs;
    if (hasExpiration) {
      const view = this.blockView.read(block, 0, block.length);
      const perMessageMs = parseExpirationMs(
        readExpiration(block, view.propertiesStart, view.propertiesEnd),
      );
      if (perMessageMs >= 0 && (ttlMs < 0 || perMessageMs < ttlMs)) ttlMs = perMessageMs;
    }
    if (features !== null && features.hasLengthLimit && features.overflow !== 'drop-head') {
      // rabbit_amqqueue_process:will_overflow: the queue would be over either limit with it.
      if (
        queue.readyCount + 1 > features.maxLength ||
        queue.readyBodyBytes + message.bodyBytes > features.maxLengthBytes
      ) {
        this.isPublishRejected = true;
        if (features.overflow === 'reject-publish-dlx')
          this.deadLetter(queue, block, DEAD_LETTER_MAXLEN);
        return null;
      }
    }
    let expiresAtMs = Infinity;
    if (ttlMs === 0) {
      // RabbitMQ delivers a message with TTL 0 only if a consumer can take it at once: the
      // consumers must have room for it behind every ready message. It is delivered in this
      // batch, whose clock reading stays the same, so now + 1 is "at once".
      if (queue.readyCount >= queue.roomForDeliveries(this.pausedConnections)) {
        this.deadLetter(queue, block, DEAD_LETTER_EXPIRED);
        return null;
      }
      expiresAtMs = this.clock.nowMs + 1;
    } else if (ttlMs > 0) {
      expiresAtMs = this.clock.nowMs + ttlMs;
    }
    this.memory.holdCopy(message);
    const entry = queue.enqueueTimed(message, expiresAtMs, this.priorityIn(queue, block));
    if (features !== null && features.hasLengthLimit && features.overflow === 'drop-head') {
      // Over a limit: the head goes (dead-lettered with reason maxlen) until the queue is within
      // it. With priorities the new message may be the head and still leave the queue over
      // (requeued messages count too), so dropping it does not end the loop.
      let isEntryDropped = false;
      while (
        queue.readyCount > features.maxLength ||
        queue.readyBodyBytes > features.maxLengthBytes
      ) {
        const head = queue.take()!;
        this.dropEntry(queue, head, DEAD_LETTER_MAXLEN);
        if (head === entry) isEntryDropped = true;
      }
      if (isEntryDropped) return null;
    }
    if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
    return entry;
  }

  /** A message's priority in a queue: its priority property capped at x-max-priority, else 0. */
  priorityIn(queue: Queue, block: Buffer): number {
    const maxPriority = queue.maxPriority;
    if (maxPriority === 0) return 0;
    const view = this.blockView.read(block, 0, block.length);
    const priority = readPriority(block, view.propertiesStart, view.propertiesEnd);
    return priority < 0 ? 0 : Math.min(priority, maxPriority);
  }

  /** A new, lower length limit (from a policy): the oldest ready messages go (drop-head). */
  enforceLengthLimit(queue: Queue): void {
    const features = queue.features;
    if (features === null || !features.hasLengthLimit || features.overflow !== 'drop-head') return;
    while (
      queue.readyCount > features.maxLength ||
      queue.readyBodyBytes > features.maxLengthBytes
    ) {
      this.dropEntry(queue, queue.take()!, DEAD_LETTER_MAXLEN);
    }
  }

  /** A copy leaves its queue without being delivered: dead-lettered if the queue says so. */
  dropEntry(queue: Queue, entry: QueueEntry, reason: number): void {
    if (queue.features?.deadLetterExchange != null && !queue.isDeleted)
      this.deadLetter(queue, this.memory.blockOf(entry), reason);
    this.memory.forget(queue, entry);
  }

  /**
   * Sends a message dying in `queue` to the network thread, which routes it through the queue's
   * dead-letter exchange like a publish without confirms. At most once, as RabbitMQ's classic
   * queues: the copy is settled here now, and the new copies are logged where they land.
   */
  private deadLetter(queue: Queue, block: Buffer, reason: number): void {
    const features = queue.features;
    if (features === null || features.deadLetterExchange === null) return;
    const spec = queue.spec;
    const dead = deadLetterBlock(
      block,
      DEAD_LETTER_REASONS[reason]!,
      spec.name,
      features.deadLetterExchange,
      features.deadLetterRoutingKey,
      this.clock.read(),
    );
    const view = this.blockView.read(dead, 0, dead.length);
    const isPersistent = readDeliveryMode(dead, view.propertiesStart, view.propertiesEnd) === 2;
    this.events.deadLetter(reason, isPersistent ? PUBLISH_FLAG_PERSISTENT : 0, spec.vhost, dead);
  }

  /** Drops (or dead-letters) expired messages at the head of a queue; they are never delivered. */
  dropExpiredHead(queue: Queue): void {
    const nowMs = this.clock.nowMs;
    for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
      if (!(head instanceof TimedQueueEntry) || head.expiresAtMs > nowMs) return;
      queue.take();
      this.dropEntry(queue, head, DEAD_LETTER_EXPIRED);
    }
  }

  /**
   * An unacked copy comes back: to its place in the queue, or (retry extension) after its
   * delay, or dead-lettered once it reached the delivery limit. A deleted queue forgets it.
   */
  requeue(queue: Queue, entry: QueueEntry): void {
    if (queue.isDeleted) {
      this.memory.forget(queue, entry);
      return;
    }
    const retry = queue.features?.retry ?? null;
    if (retry !== null) {
      // Warren's retry extension: deliveries so far include the one coming back now.
      const deliveries = entry.deliveryCount + 1;
      if (deliveries >= retry.deliveryLimit) {
        this.dropEntry(queue, entry, DEAD_LETTER_DELIVERY_LIMIT);
        return;
      }
      const delayMs = retry.delayFor(deliveries);
      if (delayMs > 0) {
        entry.deliveryCount++;
        if (isLogged(queue, entry))
          this.store!.requeue(queue.queueId, entry.seq, entry.deliveryCount);
        queue.delay(entry, this.clock.nowMs + delayMs);
        this.timers.scheduleRetry(queue);
        return;
      }
    }
    queue.requeue(entry);
    if (isLogged(queue, entry)) this.store!.requeue(queue.queueId, entry.seq, entry.deliveryCount);
    if (queue.hasExpiringEntries) this.timers.scheduleExpiry(queue);
    if (queue.consumers.length > 0) this.active.activate(queue);
  }
}
