// A queue as its shard holds it: ready messages in order, the consumers attached to it, and the
// round-robin position among them. Shard thread only. Invariant: ready messages leave in the
// order of their `seq` (arrival order); a requeued message goes back to its old place because
// it keeps its seq and waits in a heap merged with the main FIFO on every take().

import { Fifo } from '../util/index.js';
import { MinHeap } from '../util/index.js';
import { QueueFeatures } from './queue-features.js';
import type { QueueSpec } from './records.js';

import type { StoredMessage } from './stored-message.js';

/** A per-channel view of the shard: its unacked deliveries and its channel-wide prefetch. */
export class ShardChannel {
  readonly key: number;
  readonly connectionId: number;
  readonly channelId: number;
  /** Unacked deliveries by delivery id, in delivery order (Map keeps insertion order). */
  readonly unacked = new Map<number, Delivery>();
  /**
   * Set while the channel has a basic.qos global=true limit. The network thread owns that limit
   * and hands each shard credit: one delivery in ack mode to this channel's consumers per unit.
   */
  isCreditLimited = false;
  credit = 0;
  /** Set after asking the network thread for credit, until some arrives. */
  isCreditRequested = false;
  /** Unacked deliveries made to this channel's consumers (basic.get ones do not count). */
  consumerUnackedCount = 0;
  readonly consumers = new Set<Consumer>();

  constructor(key: number, connectionId: number, channelId: number) {
    this.key = key;
    this.connectionId = connectionId;
    this.channelId = channelId;
  }
}

export class Consumer {
  readonly consumerId: number;
  readonly queue: Queue;
  readonly channel: ShardChannel;
  readonly prefetchCount: number;
  readonly isNoAck: boolean;
  /** x-priority on basic.consume: higher priorities get messages first while they have room. */
  readonly priority: number;
  unackedCount = 0;
  isCancelled = false;

  constructor(
    consumerId: number,
    queue: Queue,
    channel: ShardChannel,
    prefetchCount: number,
    isNoAck: boolean,
    priority = 0,
  ) {
    this.consumerId = consumerId;
    this.queue = queue;
    this.channel = channel;
    this.prefetchCount = prefetchCount;
    this.isNoAck = isNoAck;
    this.priority = priority;
  }

  /** Whether it may take a delivery now: prefetch room and an uncongested connection. */
  canTake(pausedConnections: ReadonlySet<number>): boolean {
    return (
      this.hasCredit() &&
      (pausedConnections.size === 0 || !pausedConnections.has(this.channel.connectionId))
    );
  }

  /** Whether prefetch limits let this consumer take one more delivery now. */
  hasCredit(): boolean {
    if (this.isNoAck) return true;
    if (this.prefetchCount > 0 && this.unackedCount >= this.prefetchCount) return false;
    return !this.channel.isCreditLimited || this.channel.credit > 0;
  }

  /** Whether only the channel-wide limit holds this consumer back. */
  isWaitingForChannelCredit(): boolean {
    if (this.isNoAck || !this.channel.isCreditLimited || this.channel.credit > 0) return false;
    return this.prefetchCount === 0 || this.unackedCount < this.prefetchCount;
  }
}

/**
 * One queued copy of a message in one queue: kept as small as possible, since a deep queue holds
 * millions of them. What a delivery needs besides (queue, consumer, delivery id) lives in a
 * Delivery, made only while the copy is unacked.
 */
export class QueueEntry {
  readonly message: StoredMessage;
  /** The copy's place in its queue (arrival order); requeues return it there. */
  readonly seq: number;
  /** How many times this copy was delivered before; > 0 means redelivered. */
  deliveryCount = 0;

  constructor(message: StoredMessage, seq: number) {
    this.message = message;
    this.seq = seq;
  }
}

/**
 * A queued copy that can expire: made for queues with features (TTL, limits, dead-lettering)
 * and for messages with an expiration property, so plain copies stay small.
 */
export class TimedQueueEntry extends QueueEntry {
  /** When the copy expires (absolute, ms since the epoch); Infinity for never. */
  expiresAtMs: number;
  /** Its priority in a queue with x-max-priority (the property, capped at the maximum). */
  readonly priority: number;

  constructor(message: StoredMessage, seq: number, expiresAtMs: number, priority = 0) {
    super(message, seq);
    this.expiresAtMs = expiresAtMs;
    this.priority = priority;
  }
}

function priorityOf(entry: QueueEntry): number {
  return entry instanceof TimedQueueEntry ? entry.priority : 0;
}

/**
 * The ready entries of one priority in a queue with x-max-priority: arrival order, requeued
 * entries back in their place (the same scheme as a plain queue's).
 */
class PriorityLane {
  readonly ready = new Fifo<QueueEntry>();
  readonly returned = new MinHeap<QueueEntry>(entrySeq);

  take(): QueueEntry | undefined {
    const returned = this.returned.peek();
    if (returned === undefined) return this.ready.shift();
    const head = this.ready.peek();
    if (head !== undefined && head.seq < returned.seq) return this.ready.shift();
    return this.returned.pop();
  }

  head(): QueueEntry | undefined {
    const returned = this.returned.peek();
    if (returned === undefined) return this.ready.peek();
    const head = this.ready.peek();
    if (head !== undefined && head.seq < returned.seq) return head;
    return returned;
  }
}

/** When a copy expires; Infinity for plain copies. */
export function expiresAtOf(entry: QueueEntry): number {
  return entry instanceof TimedQueueEntry ? entry.expiresAtMs : Infinity;
}

/** A returned copy waiting out its retry delay (Warren's retry extension). */
interface DelayedEntry {
  entry: QueueEntry;
  readyAtMs: number;
}

function readyAtOf(delayed: DelayedEntry): number {
  return delayed.readyAtMs;
}

/** An unacked delivery (or basic.get in ack mode): which copy, from where, to whom. */
export class Delivery {
  readonly entry: QueueEntry;
  readonly queue: Queue;
  /** null for basic.get. */
  readonly consumer: Consumer | null;
  readonly deliveryId: number;

  constructor(entry: QueueEntry, queue: Queue, consumer: Consumer | null, deliveryId: number) {
    this.entry = entry;
    this.queue = queue;
    this.consumer = consumer;
    this.deliveryId = deliveryId;
  }
}

function entrySeq(entry: QueueEntry): number {
  return entry.seq;
}

export class Queue {
  readonly queueId: number;
  readonly spec: QueueSpec;
  /** TTL, length limits and dead-lettering; null for a plain queue (the fast path). */
  features: QueueFeatures | null;
  /**
   * Set once a copy that can expire is queued here (the queue has a TTL, or a message came with
   * an expiration): from then on deliveries check the head for expiry.
   */
  hasExpiringEntries: boolean;
  /** The expiry the shard's timer holds for this queue's head; Infinity when none. */
  timerAtMs = Infinity;
  /** Body bytes of ready messages; counted only when the queue has x-max-length-bytes. */
  readyBodyBytes = 0;
  private isCountingBytes: boolean;
  private readonly ready = new Fifo<QueueEntry>();
  private readonly returned = new MinHeap<QueueEntry>(entrySeq);
  /** One lane per priority (highest delivered first) with x-max-priority; null otherwise. */
  private readonly lanes: PriorityLane[] | null;
  private laneReadyCount = 0;
  /** Returned copies waiting out a retry delay, soonest first; not ready, not counted. */
  private delayed: MinHeap<DelayedEntry> | null = null;
  /** The retry release the shard's timer holds for this queue; Infinity when none. */
  retryTimerAtMs = Infinity;
  /** In priority order (highest first), registration order within one priority. */
  readonly consumers: Consumer[] = [];
  private nextConsumerIndex = 0;
  /** x-single-active-consumer: only the first registered consumer gets messages. */
  readonly isSingleActiveConsumer: boolean;
  /** Set while any consumer has a non-zero x-priority; round-robin then runs per priority. */
  private hasConsumerPriorities = false;
  /** Round-robin position within each consumer priority (used with consumer priorities). */
  private priorityPositions: Map<number, number> | null = null;
  private nextSeq = 1;
  isDeleted = false;
  /** Set while the queue sits in the shard's list of queues to dispatch. */
  isActive = false;
  // Counters sampled by management (plain increments, read by stats requests).
  publishedCount = 0;
  deliveredCount = 0;
  ackedCount = 0;
  unackedCount = 0;
  /**
   * Memory of the message blocks its copies refer to, each block counted in full (management's
   * per-queue memory estimate; blocks shared by queues or paged out are apportioned at sampling).
   */
  heldBytes = 0;

  constructor(spec: QueueSpec) {
    this.queueId = spec.queueId;
    this.spec = spec;
    this.features = QueueFeatures.from(spec.arguments);
    this.hasExpiringEntries = this.features !== null && this.features.messageTtlMs >= 0;
    this.isCountingBytes = this.features !== null && this.features.maxLengthBytes !== Infinity;
    const maxPriority = this.features?.maxPriority ?? 0;
    this.lanes =
      maxPriority > 0 ? Array.from({ length: maxPriority + 1 }, () => new PriorityLane()) : null;
    this.isSingleActiveConsumer = spec.arguments['x-single-active-consumer'] === true;
  }

  /** The highest priority a message can have here; 0 without x-max-priority. */
  get maxPriority(): number {
    return this.lanes === null ? 0 : this.lanes.length - 1;
  }

  get readyCount(): number {
    if (this.lanes !== null) return this.laneReadyCount;
    return this.ready.length + this.returned.length;
  }

  enqueue(message: StoredMessage): QueueEntry {
    this.publishedCount++;
    this.heldBytes += message.memoryBytes;
    const entry = new QueueEntry(message, this.nextSeq++);
    this.ready.push(entry);
    return entry;
  }

  /** Queues a copy that can expire at `expiresAtMs` (the path for queues with features). */
  enqueueTimed(message: StoredMessage, expiresAtMs: number, priority = 0): TimedQueueEntry {
    this.publishedCount++;
    this.heldBytes += message.memoryBytes;
    const entry = new TimedQueueEntry(message, this.nextSeq++, expiresAtMs, priority);
    if (expiresAtMs !== Infinity) this.hasExpiringEntries = true;
    if (this.isCountingBytes) this.readyBodyBytes += message.bodyBytes;
    if (this.lanes !== null) {
      this.lanes[priority]!.ready.push(entry);
      this.laneReadyCount++;
    } else {
      this.ready.push(entry);
    }
    return entry;
  }

  /** Puts back a copy recovery found; call in seq order before any enqueue(). */
  restore(entry: QueueEntry): void {
    this.heldBytes += entry.message.memoryBytes;
    if (expiresAtOf(entry) !== Infinity) this.hasExpiringEntries = true;
    if (this.isCountingBytes) this.readyBodyBytes += entry.message.bodyBytes;
    if (this.lanes !== null) {
      this.lanes[priorityOf(entry)]!.ready.push(entry);
      this.laneReadyCount++;
    } else {
      this.ready.push(entry);
    }
    this.nextSeq = entry.seq + 1;
  }

  /** Puts a delivered entry back in its original place, marked as delivered once more. */
  requeue(entry: QueueEntry): void {
    entry.deliveryCount++;
    if (this.isCountingBytes) this.readyBodyBytes += entry.message.bodyBytes;
    if (this.lanes !== null) {
      this.lanes[priorityOf(entry)]!.returned.push(entry);
      this.laneReadyCount++;
    } else {
      this.returned.push(entry);
    }
  }

  /** Holds a returned copy (its delivery count already raised) until `readyAtMs`. */
  delay(entry: QueueEntry, readyAtMs: number): void {
    (this.delayed ??= new MinHeap<DelayedEntry>(readyAtOf)).push({ entry, readyAtMs });
  }

  /** When the next delayed copy is due; Infinity when none waits. */
  get nextDelayedAtMs(): number {
    return this.delayed?.peek()?.readyAtMs ?? Infinity;
  }

  /** Puts every delayed copy due by `nowMs` back in its place; returns how many. */
  releaseDue(nowMs: number): number {
    let released = 0;
    const delayed = this.delayed;
    if (delayed === null) return 0;
    for (
      let due = delayed.peek();
      due !== undefined && due.readyAtMs <= nowMs;
      due = delayed.peek()
    ) {
      delayed.pop();
      // requeue() counts a delivery; this one was counted when it was delayed.
      due.entry.deliveryCount--;
      this.requeue(due.entry);
      released++;
    }
    return released;
  }

  /** Removes and returns the oldest ready entry. */
  take(): QueueEntry | undefined {
    const entry = this.takeNext();
    if (this.isCountingBytes && entry !== undefined) this.readyBodyBytes -= entry.message.bodyBytes;
    return entry;
  }

  private takeNext(): QueueEntry | undefined {
    if (this.lanes !== null) {
      for (let priority = this.lanes.length - 1; priority >= 0; priority--) {
        const entry = this.lanes[priority]!.take();
        if (entry !== undefined) {
          this.laneReadyCount--;
          return entry;
        }
      }
      return undefined;
    }
    const returned = this.returned.peek();
    if (returned === undefined) return this.ready.shift();
    const head = this.ready.peek();
    if (head !== undefined && head.seq < returned.seq) return this.ready.shift();
    return this.returned.pop();
  }

  /** The entry take() would return, left in place. */
  peek(): QueueEntry | undefined {
    if (this.lanes !== null) {
      for (let priority = this.lanes.length - 1; priority >= 0; priority--) {
        const entry = this.lanes[priority]!.head();
        if (entry !== undefined) return entry;
      }
      return undefined;
    }
    const returned = this.returned.peek();
    if (returned === undefined) return this.ready.peek();
    const head = this.ready.peek();
    if (head !== undefined && head.seq < returned.seq) return head;
    return returned;
  }

  /** Whether a consumer may get messages at all (with a single active consumer, only one may). */
  isConsumerActive(consumer: Consumer): boolean {
    return !this.isSingleActiveConsumer || this.consumers[0] === consumer;
  }

  /**
   * How many deliveries the consumers could take right now (Infinity without limits): what a
   * message with TTL 0 needs, behind the ready messages, to be delivered at once.
   */
  roomForDeliveries(pausedConnections: ReadonlySet<number>): number {
    const consumers = this.isSingleActiveConsumer ? this.consumers.slice(0, 1) : this.consumers;
    let room = 0;
    for (const consumer of consumers) {
      if (!consumer.canTake(pausedConnections)) continue;
      let consumerRoom = Infinity;
      if (!consumer.isNoAck) {
        if (consumer.prefetchCount > 0)
          consumerRoom = consumer.prefetchCount - consumer.unackedCount;
        if (consumer.channel.isCreditLimited)
          consumerRoom = Math.min(consumerRoom, consumer.channel.credit);
      }
      room += consumerRoom;
    }
    return room;
  }

  /** Visits every entry the queue holds: ready ones and those waiting out a retry delay. */
  forEachHeld(visit: (entry: QueueEntry) => void): void {
    this.forEachReady(visit);
    this.delayed?.forEach((delayed) => visit(delayed.entry));
  }

  /**
   * A policy changed the queue's effective arguments: TTL, limits and dead-lettering follow
   * them from now on (priority lanes and single active consumer stay as declared). Messages
   * already queued keep the expiry they arrived with, as in RabbitMQ.
   */
  applyArguments(args: Record<string, unknown>): void {
    const features = QueueFeatures.from(args);
    this.features = features;
    if (features !== null && features.messageTtlMs >= 0) this.hasExpiringEntries = true;
    const isCountingBytes = features !== null && features.maxLengthBytes !== Infinity;
    if (isCountingBytes && !this.isCountingBytes) {
      let bytes = 0;
      this.forEachReady((entry) => (bytes += entry.message.bodyBytes));
      this.readyBodyBytes = bytes;
    }
    if (!isCountingBytes) this.readyBodyBytes = 0;
    this.isCountingBytes = isCountingBytes;
  }

  /** Visits every ready entry (returned ones first, then the FIFO). */
  forEachReady(visit: (entry: QueueEntry) => void): void {
    this.returned.forEach(visit);
    this.ready.forEach(visit);
    if (this.lanes === null) return;
    for (const lane of this.lanes) {
      lane.returned.forEach(visit);
      lane.ready.forEach(visit);
    }
  }

  /** Drops every ready entry; returns them. */
  purge(): QueueEntry[] {
    this.readyBodyBytes = 0;
    const entries: QueueEntry[] = this.returned.drain();
    // Copies waiting out a retry delay go too: they are the queue's, not a consumer's.
    if (this.delayed !== null)
      for (const delayed of this.delayed.drain()) entries.push(delayed.entry);
    for (let entry = this.ready.shift(); entry !== undefined; entry = this.ready.shift())
      entries.push(entry);
    if (this.lanes !== null) {
      for (const lane of this.lanes) {
        entries.push(...lane.returned.drain());
        for (let entry = lane.ready.shift(); entry !== undefined; entry = lane.ready.shift())
          entries.push(entry);
      }
      this.laneReadyCount = 0;
    }
    return entries;
  }

  addConsumer(consumer: Consumer): void {
    const consumers = this.consumers;
    // After every consumer of the same or a higher priority: registration order within one.
    let index = consumers.length;
    while (index > 0 && consumers[index - 1]!.priority < consumer.priority) index--;
    consumers.splice(index, 0, consumer);
    if (index < consumers.length - 1 && this.nextConsumerIndex > index) this.nextConsumerIndex++;
    if (consumer.priority !== 0) this.hasConsumerPriorities = true;
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    this.consumers.splice(index, 1);
    if (this.nextConsumerIndex > index) this.nextConsumerIndex--;
    if (consumer.priority !== 0)
      this.hasConsumerPriorities = this.consumers.some((other) => other.priority !== 0);
  }

  /**
   * With consumer priorities: the highest priority with a consumer that can take a delivery,
   * round-robin among that priority's consumers (RabbitMQ's consumer priorities: lower ones get
   * messages only while every higher one is blocked).
   */
  private nextByConsumerPriority(pausedConnections: ReadonlySet<number>): Consumer | null {
    const consumers = this.consumers;
    let start = 0;
    while (start < consumers.length) {
      const priority = consumers[start]!.priority;
      let end = start + 1;
      while (end < consumers.length && consumers[end]!.priority === priority) end++;
      const count = end - start;
      const positions = (this.priorityPositions ??= new Map<number, number>());
      const position = positions.get(priority) ?? 0;
      for (let tried = 0; tried < count; tried++) {
        const offset = (position + tried) % count;
        const consumer = consumers[start + offset]!;
        if (consumer.canTake(pausedConnections)) {
          positions.set(priority, offset + 1);
          return consumer;
        }
      }
      start = end;
    }
    return null;
  }

  /**
   * The next consumer in round-robin order that may take a delivery now, or null. `isPaused`
   * says whether a connection's socket is congested.
   */
  nextConsumerWithCredit(pausedConnections: ReadonlySet<number>): Consumer | null {
    if (this.isSingleActiveConsumer) {
      // RabbitMQ's classic queues: the earliest registered consumer is the active one.
      const active = this.consumers[0];
      return active !== undefined && active.canTake(pausedConnections) ? active : null;
    }
    if (this.hasConsumerPriorities) return this.nextByConsumerPriority(pausedConnections);
    const consumers = this.consumers;
    const count = consumers.length;
    for (let tried = 0; tried < count; tried++) {
      if (this.nextConsumerIndex >= count) this.nextConsumerIndex = 0;
      const consumer = consumers[this.nextConsumerIndex++]!;
      if (
        consumer.hasCredit() &&
        (pausedConnections.size === 0 || !pausedConnections.has(consumer.channel.connectionId))
      ) {
        return consumer;
      }
    }
    return null;
  }
}
