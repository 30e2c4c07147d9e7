// A shard: the owner of a set of queues, their messages, consumers and unacked deliveries.
// Shard thread only. It reads commands from its input ring in order and answers on its output
// ring, so everything the network thread sent earlier is applied before anything it sent later.
// Delivery ids are the shard's own (one counter); the network thread maps them to per-channel
// delivery tags. Persistent messages in durable queues go to the shard's log once; a publish is
// confirmed when the log append it needed is durable (at once when it needed none), in order.

import { unpack } from 'msgpackr';
import { SYNC_MS_BUCKET_BOUNDS } from '../log/index.js';
import { readDeliveryMode, readExpiration, readPriority } from '../codec/index.js';
import { assert, Fifo, MinHeap } from '../util/index.js';
import type { RingOutbox } from '../util/index.js';
import type { RingSink } from '../util/index.js';
import type { DefinitionRecord, MessageStore } from './message-store.js';
import { type ConfirmSink, PendingConfirms } from './pending-confirms.js';
import { deadLetterBlock } from './dead-letter.js';
import {
  Consumer,
  Delivery,
  expiresAtOf,
  Queue,
  type QueueEntry,
  ShardChannel,
  TimedQueueEntry,
} from './queue.js';
import { parseExpirationMs } from './queue-features.js';
import type { QueueStats, ShardStats } from './records.js';
import { StoredMessage } from './stored-message.js';
import {
  CMD_CONNECTION_FLOW,
  CMD_CONTROL,
  CMD_PUBLISH,
  CMD_SETTLE,
  CMD_CREDIT,
  CMD_TRANSACTION,
  CONFIRM_BYTES,
  CREDIT_BYTES,
  DEAD_LETTER_DELIVERY_LIMIT,
  DEAD_LETTER_EXPIRED,
  DEAD_LETTER_HEADER_BYTES,
  DEAD_LETTER_MAXLEN,
  DEAD_LETTER_REASONS,
  DEAD_LETTER_REJECTED,
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  EVT_CREDIT,
  channelKey,
  type ControlRequest,
  DELIVER_HEADER_BYTES,
  EVT_CONFIRM,
  EVT_DEAD_LETTER,
  EVT_DELIVER,
  EVT_REJECT,
  EVT_GET_OK,
  EVT_REPLY,
  GET_OK_HEADER_BYTES,
  MessageBlockView,
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_EXPIRATION,
  PUBLISH_FLAG_PERSISTENT,
  PUBLISH_HEADER_BYTES,
  REJECT_BYTES,
  REPLY_HEADER_BYTES,
  SETTLE_ACK,
  SETTLE_DISCARD,
  SETTLE_HEADER_BYTES,
  SETTLE_REQUEUE,
} from './records.js';

const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;
/** Deliveries one queue makes before the next active queue gets a turn. */
const DELIVERIES_PER_TURN = 128;
/** What one queued copy costs beyond its message block: its entry object and queue slot. */
const QUEUE_ENTRY_OVERHEAD_BYTES = 64;

/** A queue's head expiry the shard's timer waits for. */
interface ExpiryTimer {
  queue: Queue;
  atMs: number;
}

function timerAtOf(timer: ExpiryTimer): number {
  return timer.atMs;
}

/** Where a shard reads the time: Date.now in production, a fake clock in simulations. */
export type Clock = () => number;

/** A control reply that must wait until a log append is durable. */
interface DurableReply {
  requestId: number;
  needSeq: number;
  value: number;
  /** A transaction fails when its record is lost; a definition is written again and waits. */
  isTransaction: boolean;
}

/**
 * A committed transaction whose record the log lost closes its channel the way RabbitMQ closes
 * one when a queue refused part of a transaction (rabbit_channel:complete_tx): 406, a soft
 * error, so the connection and its other channels live on. The reason follows RabbitMQ's text.
 */
function transactionLostText(error: Error): string {
  return `partial tx completion: the log could not store the transaction (${error.message})`;
}

export class Shard implements RingSink, ConfirmSink {
  readonly shardIndex: number;
  private readonly outbox: RingOutbox;
  /** The shard's log; null runs the shard in memory only. */
  private readonly store: MessageStore | null;
  private readonly pendingConfirms = new PendingConfirms();
  private readonly durableReplies: DurableReply[] = [];
  // Durable copies of the message being published: filled per publish, no allocation.
  private durableQueueIds = new Uint32Array(64);
  private durableSeqs = new Float64Array(64);
  private durableExpiries = new Float64Array(64);
  /** Set while applying a publish that some queue refused (x-overflow reject-publish). */
  private isPublishRejected = false;
  private readonly clock: Clock;
  /** The coarse clock: read once per batch and per timer run. */
  nowMs: number;
  /** Head expiries of queues whose messages can expire, soonest first: the shard's one timer. */
  private readonly expiryTimers = new MinHeap<ExpiryTimer>(timerAtOf);
  /** When queues' delayed retries are due, soonest first (Warren's retry extension). */
  private readonly retryTimers = new MinHeap<ExpiryTimer>(timerAtOf);
  /** While applying a transaction record: the messages it logged. */
  private transactionMessages: StoredMessage[] | null = null;
  private readonly queues = new Map<number, Queue>();
  private readonly channels = new Map<number, ShardChannel>();
  private readonly consumers = new Map<number, Consumer>();
  private readonly pausedConnections = new Set<number>();
  private readonly activeQueues: Queue[] = [];
  /** Channels under a channel-wide prefetch, whose credit this shard must not sit on. */
  private readonly creditLimitedChannels = new Set<ShardChannel>();
  private nextDeliveryId = 1;
  private readonly replyTextBytes = Buffer.allocUnsafe(1024);
  private readonly blockView = new MessageBlockView();
  /** Bytes of queued message blocks held in memory. */
  bodyBytesInMemory = 0;
  private readonly memoryBudgetBytes: number;
  /** Logged messages whose records are not durable yet, oldest first. */
  private readonly awaitingDurability = new Fifo<StoredMessage>();
  /** Logged messages whose records are durable: their blocks may be paged out, newest first. */
  private readonly pageable = new Fifo<StoredMessage>();
  /** pageable's length after it last dropped dead entries; it is filtered again at twice that. */
  private pageableLiveLength = 0;
  /**
   * Unlogged messages queued while bodies were over half the budget, newest last: they are
   * written out (LOG_PAGED) when paging logged bodies alone cannot get under the budget.
   */
  private readonly transientPageable = new Fifo<StoredMessage>();
  private transientPageableLiveLength = 0;
  /** Paged messages whose records are not durable yet, oldest first, and their memory. */
  private readonly awaitingPageWrite = new Fifo<StoredMessage>();
  private pageWriteBytes = 0;
  /** Messages compaction wrote again, until that is durable (a lost copy is written again). */
  private readonly relocating = new Set<StoredMessage>();
  private isLogFailing = false;
  /** Told when the log starts failing (disk full, I/O error) and when it works again. */
  onLogHealth: (isFailing: boolean, reason: string) => void = () => {};

  constructor(
    shardIndex: number,
    outbox: RingOutbox,
    store: MessageStore | null,
    memoryBudgetBytes = Infinity,
    clock: Clock = Date.now,
  ) {
    this.clock = clock;
    this.nowMs = clock();
    this.shardIndex = shardIndex;
    this.outbox = outbox;
    this.store = store;
    this.memoryBudgetBytes = memoryBudgetBytes;
    if (store !== null) {
      store.log.onDurable = (durableSeq) => this.onDurable(durableSeq);
      store.log.onCompact = (segment) => this.relocate(segment);
      store.log.onWriteFailed = (error) => this.onWriteFailed(error);
      store.log.onWriteRecovered = () => {
        this.isLogFailing = false;
        this.onLogHealth(false, '');
      };
    }
  }

  get queueCount(): number {
    return this.queues.size;
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    switch (type) {
      case CMD_PUBLISH:
        this.publish(bytes, start, end);
        return;
      case CMD_SETTLE:
        this.settle(bytes, start);
        return;
      case CMD_TRANSACTION:
        this.applyTransaction(bytes, start, end);
        return;
      case CMD_CONTROL:
        this.control(
          bytes.readUInt32LE(start),
          unpack(bytes.subarray(start + 4, end)) as ControlRequest,
        );
        return;
      case CMD_CONNECTION_FLOW:
        this.connectionFlow(bytes.readUInt32LE(start), bytes[start + 4] === 1);
        return;
      case CMD_CREDIT:
        this.addCredit(
          bytes.readUInt32LE(start),
          bytes.readUInt16LE(start + 4),
          bytes.readUInt32LE(start + 6),
        );
        return;
      default:
        assert(false, `unknown command record ${type}`);
    }
  }

  /** Starts a batch of commands: reads the clock once for all of them. */
  beginBatch(): void {
    this.nowMs = this.clock();
  }

  /** When the shard's timer should next run (ms since the epoch), or Infinity for never. */
  nextTimerAtMs(): number {
    return Math.min(
      this.expiryTimers.peek()?.atMs ?? Infinity,
      this.retryTimers.peek()?.atMs ?? Infinity,
    );
  }

  /**
   * The timer: drops or dead-letters the expired heads of queues whose time has come, then
   * schedules their next head. Call afterBatch() after it.
   */
  runTimers(): void {
    this.nowMs = this.clock();
    const timers = this.expiryTimers;
    for (
      let timer = timers.peek();
      timer !== undefined && timer.atMs <= this.nowMs;
      timer = timers.peek()
    ) {
      timers.pop();
      const queue = timer.queue;
      // A stale timer: the queue is gone, or its head changed and another timer stands for it.
      if (queue.isDeleted || queue.timerAtMs !== timer.atMs) continue;
      queue.timerAtMs = Infinity;
      this.dropExpiredHead(queue);
      this.scheduleExpiry(queue);
    }
    const retries = this.retryTimers;
    for (
      let timer = retries.peek();
      timer !== undefined && timer.atMs <= this.nowMs;
      timer = retries.peek()
    ) {
      retries.pop();
      const queue = timer.queue;
      if (queue.isDeleted || queue.retryTimerAtMs !== timer.atMs) continue;
      queue.retryTimerAtMs = Infinity;
      if (queue.releaseDue(this.nowMs) > 0) {
        if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
        if (queue.consumers.length > 0) this.activate(queue);
      }
      this.scheduleRetry(queue);
    }
  }

  /** Sets the shard's timer for a queue's next delayed retry. */
  private scheduleRetry(queue: Queue): void {
    const atMs = queue.nextDelayedAtMs;
    if (atMs === Infinity || atMs >= queue.retryTimerAtMs) return;
    queue.retryTimerAtMs = atMs;
    this.retryTimers.push({ queue, atMs });
  }

  /**
   * Ends a batch of commands: runs deliveries, writes the batch's log records and starts their
   * sync, and sends the confirms that need no wait.
   */
  afterBatch(): void {
    this.dispatch();
    if (this.creditLimitedChannels.size > 0) this.returnIdleCredit();
    const store = this.store;
    if (store !== null) {
      store.flushRefs();
      this.prunePageable();
      if (this.bodyBytesInMemory > this.memoryBudgetBytes) {
        this.pageOut();
        if (this.bodyBytesInMemory - this.pageWriteBytes > this.memoryBudgetBytes)
          this.pageTransient();
      }
      store.log.flush();
    }
    if (this.pendingConfirms.length > 0) this.pendingConfirms.drain(this.durableSeq, this);
    this.outbox.flush();
  }

  private get durableSeq(): number {
    return this.store === null ? Infinity : this.store.log.durableSeq;
  }

  /** The log made appends up to `durableSeq` durable: confirm what waited for them. */
  private onDurable(durableSeq: number): void {
    this.store!.onDurable(durableSeq);
    this.markDurable(durableSeq);
    this.pendingConfirms.drain(durableSeq, this);
    const replies = this.durableReplies;
    while (replies.length > 0 && replies[0]!.needSeq <= durableSeq) {
      const reply = replies.shift()!;
      this.reply(reply.requestId, 0, reply.value);
    }
    this.outbox.flush();
  }

  /** Answers `requestId` once log append `needSeq` is durable. */
  private replyWhenDurable(
    requestId: number,
    needSeq: number,
    value: number,
    isTransaction: boolean,
  ): void {
    if (needSeq <= this.durableSeq) {
      this.reply(requestId, 0, value);
      return;
    }
    this.durableReplies.push({ requestId, needSeq, value, isTransaction });
    this.store!.log.requestSync();
  }

  /**
   * The log lost every append after its durableSeq (a full disk, an I/O error). What waited for
   * them fails: confirms become basic.nack, transactions close their channel. Messages whose
   * records were lost live on in memory only; what must stay durable (definitions, compacted
   * copies of messages confirmed long ago) is appended again and waits for the log to heal.
   * Lost settlements need nothing: their messages at worst come back after a restart.
   */
  private onWriteFailed(error: Error): void {
    const store = this.store!;
    const durableSeq = store.log.durableSeq;
    this.markDurable(durableSeq);
    this.pendingConfirms.fail(durableSeq, this);
    const lostRelocations = new Set<StoredMessage>();
    for (let message = this.awaitingDurability.shift(); message !== undefined;) {
      if (this.relocating.has(message)) lostRelocations.add(message);
      else store.unlog(message);
      message = this.awaitingDurability.shift();
    }
    this.relocating.clear();
    // Lost page writes: those bodies are still in memory; they may page again once it heals.
    for (let message = this.awaitingPageWrite.shift(); message !== undefined;) {
      this.pageWriteBytes -= message.memoryBytes;
      store.unpage(message);
      message.isPageRecord = false;
      if (message.copies > 0) this.transientPageable.push(message);
      message = this.awaitingPageWrite.shift();
    }
    const definitionSeq = store.rewriteLostDefinitions(durableSeq);
    const replies = this.durableReplies;
    let kept = 0;
    for (const reply of replies) {
      if (reply.isTransaction) {
        this.reply(reply.requestId, PRECONDITION_FAILED, 0, transactionLostText(error));
        continue;
      }
      if (reply.needSeq > durableSeq) reply.needSeq = definitionSeq;
      replies[kept++] = reply;
    }
    replies.length = kept;
    if (lostRelocations.size > 0) this.relocateWhere((message) => lostRelocations.has(message));
    store.flushRefs();
    store.log.requestSync();
    this.outbox.flush();
    // Said once per failing spell: the probes that fail after it add nothing.
    if (!this.isLogFailing) this.onLogHealth(true, error.message);
    this.isLogFailing = true;
  }

  /** ConfirmSink: publishes up to confirmSeq on a channel are settled. */
  confirm(connectionId: number, channelId: number, confirmSeq: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(CONFIRM_BYTES);
    const target = outbox.target;
    target.writeUInt32LE(connectionId, at);
    target.writeUInt16LE(channelId, at + 4);
    target.writeDoubleLE(confirmSeq, at + 6);
    outbox.end(EVT_CONFIRM, at, at + CONFIRM_BYTES);
  }

  /** Sampled counters for management: read on request, never pushed per message. */
  stats(): ShardStats {
    const queues: QueueStats[] = [];
    // Blocks shared by several queues, or paged out, are shared out so queues sum to the shard.
    let heldBytes = 0;
    for (const queue of this.queues.values()) heldBytes += queue.heldBytes;
    const share = heldBytes > this.bodyBytesInMemory ? this.bodyBytesInMemory / heldBytes : 1;
    for (const queue of this.queues.values()) {
      const copies = queue.readyCount + queue.unackedCount;
      queues.push({
        memoryBytes: Math.round(queue.heldBytes * share) + copies * QUEUE_ENTRY_OVERHEAD_BYTES,
        queueId: queue.queueId,
        ready: queue.readyCount,
        unacked: queue.unackedCount,
        consumers: queue.consumers.length,
        published: queue.publishedCount,
        delivered: queue.deliveredCount,
        acked: queue.ackedCount,
      });
    }
    const log = this.store?.log ?? null;
    return {
      shardIndex: this.shardIndex,
      queues,
      bodyBytesInMemory: this.bodyBytesInMemory,
      pendingConfirms: this.pendingConfirms.length,
      log:
        log === null
          ? null
          : {
              appendSeq: log.appendSeq,
              durableSeq: log.durableSeq,
              syncCycles: log.syncCycles,
              syncMsTotal: log.syncMsTotal,
              syncMsMax: log.syncMsMax,
              syncMsBucketBounds: SYNC_MS_BUCKET_BOUNDS,
              syncMsBucketCounts: [...log.syncMsBucketCounts],
              bytesWritten: log.bytesWritten,
              segments: log.openSegmentCount,
              totalBytes: log.totalBytes,
            },
    };
  }

  /** Whether there is delivery work left that a later turn should do. */
  hasDispatchWork(): boolean {
    return this.activeQueues.length > 0 && !this.outbox.isBlocked;
  }

  private publish(bytes: Buffer, start: number, end: number): void {
    const connectionId = bytes.readUInt32LE(start);
    const channelId = bytes.readUInt16LE(start + 4);
    const flags = bytes[start + 6]!;
    const confirmSeq = bytes.readDoubleLE(start + 7);
    const queueCount = bytes.readUInt16LE(start + 15);
    const blockStart = start + PUBLISH_HEADER_BYTES + queueCount * 4;
    const isPersistent = (flags & PUBLISH_FLAG_PERSISTENT) !== 0 && this.store !== null;
    const hasExpiration = (flags & PUBLISH_FLAG_EXPIRATION) !== 0;
    let message: StoredMessage | null = null;
    let durableCount = 0;
    let isTimed = false;
    this.isPublishRejected = false;
    for (let i = 0; i < queueCount; i++) {
      const queue = this.queues.get(bytes.readUInt32LE(start + PUBLISH_HEADER_BYTES + i * 4));
      // A queue deleted after the network thread routed to it simply misses the message.
      if (queue === undefined) continue;
      if (message === null) {
        const block = Buffer.allocUnsafe(end - blockStart);
        bytes.copy(block, 0, blockStart, end);
        message = new StoredMessage(block);
      }
      let entry: QueueEntry;
      if (queue.features === null && !hasExpiration) {
        if (message.copies++ === 0) this.bodyBytesInMemory += message.memoryBytes;
        entry = queue.enqueue(message);
      } else {
        // TTL, length limits, dead-lettering: off the plain path.
        const timed = this.enqueueWithFeatures(queue, message, hasExpiration);
        if (timed === null) continue;
        entry = timed;
        if (timed.expiresAtMs !== Infinity) isTimed = true;
      }
      if (isPersistent && queue.spec.isDurable) {
        // RabbitMQ's rule: only persistent messages in durable queues survive a restart.
        if (durableCount === this.durableQueueIds.length) this.growDurableScratch();
        this.durableQueueIds[durableCount] = queue.queueId;
        this.durableSeqs[durableCount] = entry.seq;
        this.durableExpiries[durableCount] = expiresAtOf(entry);
        durableCount++;
      }
      if (queue.consumers.length > 0) this.activate(queue);
    }
    if (this.isPublishRejected && (flags & PUBLISH_FLAG_CONFIRM) !== 0)
      this.writeReject(connectionId, channelId, confirmSeq);
    let needSeq = 0;
    if (durableCount > 0) {
      message!.appendSeq = needSeq = this.store!.logMessage(
        message!,
        message!.block!,
        this.durableQueueIds,
        this.durableSeqs,
        durableCount,
        isTimed ? this.durableExpiries : null,
      );
      if (this.transactionMessages !== null) this.transactionMessages.push(message!);
      else this.awaitingDurability.push(message!);
    } else if (message !== null && this.bodyBytesInMemory > this.memoryBudgetBytes / 2) {
      // Under memory pressure even transient bodies may have to go to the log.
      if (this.store !== null) this.transientPageable.push(message);
    }
    if ((flags & PUBLISH_FLAG_CONFIRM) !== 0) {
      if (needSeq > 0) this.store!.log.requestSync();
      this.pendingConfirms.push(needSeq, connectionId, channelId, confirmSeq);
    }
  }

  private growDurableScratch(): void {
    const ids = new Uint32Array(this.durableQueueIds.length * 2);
    ids.set(this.durableQueueIds);
    this.durableQueueIds = ids;
    const seqs = new Float64Array(this.durableSeqs.length * 2);
    seqs.set(this.durableSeqs);
    this.durableSeqs = seqs;
    const expiries = new Float64Array(this.durableExpiries.length * 2);
    expiries.set(this.durableExpiries);
    this.durableExpiries = expiries;
  }

  /**
   * Queues a copy in a queue with features, or a message with an expiration: applies the TTL
   * (the lower of x-message-ttl and the expiration property, as RabbitMQ), the length limit
   * and its overflow behaviour. Returns the entry, or null when the copy was refused, expired
   * at once or dropped at once (then dead-lettered where the queue says so).
   */
  private enqueueWithFeatures(
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
      expiresAtMs = this.nowMs + 1;
    } else if (ttlMs > 0) {
      expiresAtMs = this.nowMs + ttlMs;
    }
    if (message.copies++ === 0) this.bodyBytesInMemory += message.memoryBytes;
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
    if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
    return entry;
  }

  /** A message's priority in a queue: its priority property capped at x-max-priority, else 0. */
  private priorityIn(queue: Queue, block: Buffer): number {
    const maxPriority = queue.maxPriority;
    if (maxPriority === 0) return 0;
    const view = this.blockView.read(block, 0, block.length);
    const priority = readPriority(block, view.propertiesStart, view.propertiesEnd);
    return priority < 0 ? 0 : Math.min(priority, maxPriority);
  }

  /** A new, lower length limit (from a policy): the oldest ready messages go (drop-head). */
  private enforceLengthLimit(queue: Queue): void {
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
  private dropEntry(queue: Queue, entry: QueueEntry, reason: number): void {
    if (queue.features?.deadLetterExchange != null && !queue.isDeleted)
      this.deadLetter(queue, this.blockOf(entry), reason);
    this.forgetEntry(queue, entry);
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
      this.clock(),
    );
    const view = this.blockView.read(dead, 0, dead.length);
    const isPersistent = readDeliveryMode(dead, view.propertiesStart, view.propertiesEnd) === 2;
    const vhostBytes = Buffer.byteLength(spec.vhost);
    const outbox = this.outbox;
    const size = DEAD_LETTER_HEADER_BYTES + vhostBytes + dead.length;
    const at = outbox.begin(size);
    const target = outbox.target;
    target[at] = reason;
    target[at + 1] = isPersistent ? PUBLISH_FLAG_PERSISTENT : 0;
    target[at + 2] = vhostBytes;
    target.write(spec.vhost, at + DEAD_LETTER_HEADER_BYTES, 'utf8');
    dead.copy(target, at + DEAD_LETTER_HEADER_BYTES + vhostBytes);
    outbox.end(EVT_DEAD_LETTER, at, at + size);
  }

  /** ConfirmSink: publish `confirmSeq` could not be stored. */
  reject(connectionId: number, channelId: number, confirmSeq: number): void {
    this.writeReject(connectionId, channelId, confirmSeq);
  }

  private writeReject(connectionId: number, channelId: number, confirmSeq: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(REJECT_BYTES);
    const target = outbox.target;
    target.writeUInt32LE(connectionId, at);
    target.writeUInt16LE(channelId, at + 4);
    target.writeDoubleLE(confirmSeq, at + 6);
    outbox.end(EVT_REJECT, at, at + REJECT_BYTES);
  }

  /** Drops (or dead-letters) expired messages at the head of a queue; they are never delivered. */
  private dropExpiredHead(queue: Queue): void {
    const nowMs = this.nowMs;
    for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
      if (!(head instanceof TimedQueueEntry) || head.expiresAtMs > nowMs) return;
      queue.take();
      this.dropEntry(queue, head, DEAD_LETTER_EXPIRED);
    }
  }

  /** Sets the shard's timer for a queue's head, if it can expire sooner than already set. */
  private scheduleExpiry(queue: Queue): void {
    const head = queue.peek();
    if (head === undefined) return;
    const atMs = expiresAtOf(head);
    if (atMs === Infinity || atMs >= queue.timerAtMs) return;
    queue.timerAtMs = atMs;
    this.expiryTimers.push({ queue, atMs });
  }

  /**
   * A committed transaction's publishes and settles for this shard, as one record of nested
   * records: applied together and logged as one atomic log record, answered once durable.
   */
  private applyTransaction(bytes: Buffer, start: number, end: number): void {
    const requestId = bytes.readUInt32LE(start);
    const count = bytes.readUInt32LE(start + 4);
    const store = this.store;
    store?.beginTransaction();
    this.transactionMessages = [];
    let at = start + 8;
    for (let i = 0; i < count; i++) {
      const type = bytes[at]!;
      const nestedBytes = bytes.readUInt32LE(at + 1);
      const nestedStart = at + 5;
      if (type === CMD_PUBLISH) this.publish(bytes, nestedStart, nestedStart + nestedBytes);
      else if (type === CMD_SETTLE) this.settle(bytes, nestedStart);
      else assert(false, `bad record ${type} in a transaction`);
      at = nestedStart + nestedBytes;
    }
    assert(at === end, 'transaction record size');
    const messages = this.transactionMessages;
    this.transactionMessages = null;
    if (store === null) {
      this.reply(requestId, 0, 0);
      return;
    }
    const needSeq = store.commitTransaction(messages);
    for (const message of messages) {
      // Held in the log by the transaction record: lost with it if it is.
      message.appendSeq = needSeq;
      this.awaitingDurability.push(message);
    }
    this.replyWhenDurable(requestId, needSeq, 0, true);
  }

  private settle(bytes: Buffer, start: number): void {
    const key = channelKey(bytes.readUInt32LE(start), bytes.readUInt16LE(start + 4));
    const action = bytes[start + 6]!;
    const count = bytes.readUInt32LE(start + 7);
    const channel = this.channels.get(key);
    if (channel === undefined) return;
    let at = start + SETTLE_HEADER_BYTES;
    for (let i = 0; i < count; i++, at += 8) {
      const delivery = channel.unacked.get(bytes.readDoubleLE(at));
      if (delivery === undefined) continue;
      this.release(channel, delivery);
      if (action === SETTLE_REQUEUE) {
        this.requeue(delivery.queue, delivery.entry);
        continue;
      }
      assert(action === SETTLE_ACK || action === SETTLE_DISCARD, `bad settle action ${action}`);
      delivery.queue.ackedCount++;
      // basic.reject / basic.nack with requeue=false: dead-lettered with reason "rejected".
      if (action === SETTLE_DISCARD)
        this.dropEntry(delivery.queue, delivery.entry, DEAD_LETTER_REJECTED);
      else this.forgetEntry(delivery.queue, delivery.entry);
    }
  }

  /**
   * Whether a copy is in the log: a logged message (only persistent ones are) in a durable queue.
   * A persistent message is logged for every durable queue it reaches, so this is exact.
   */
  private isLogged(queue: Queue, entry: QueueEntry): boolean {
    const message = entry.message;
    return queue.spec.isDurable && message.segment !== 0 && !message.isPageRecord;
  }

  /** A copy left its queue for good: the log learns it is settled, and memory is counted down. */
  private forgetEntry(queue: Queue, entry: QueueEntry): void {
    const message = entry.message;
    queue.heldBytes -= message.memoryBytes;
    if (--message.copies === 0) {
      if (message.block !== null) this.bodyBytesInMemory -= message.memoryBytes;
      if (message.isPageRecord) this.store!.releasePage(message);
    }
    if (!this.isLogged(queue, entry)) return;
    // A deleted queue's copies were settled by its deletion record.
    if (queue.isDeleted) this.store!.forget(message);
    else this.store!.settle(message, queue.queueId, entry.seq);
  }

  /**
   * Keeps queued bodies within the memory budget: bodies of logged messages whose records are
   * durable are dropped, newest first (they will be delivered last), and read back from the log
   * when delivered. Like RabbitMQ's lazy and v2 classic queues, a deep queue then costs little
   * more than its index in memory.
   */
  private pageOut(): void {
    const pageable = this.pageable;
    while (this.bodyBytesInMemory > this.memoryBudgetBytes) {
      const message = pageable.pop();
      if (message === undefined) return;
      if (message.block === null || message.copies === 0 || message.payloadOffset < 0) continue;
      // Rewritten by compaction and not yet durable there: it comes back when it is.
      if (message.appendSeq > this.durableSeq) continue;
      message.block = null;
      this.bodyBytesInMemory -= message.memoryBytes;
    }
  }

  /**
   * Writes unlogged bodies (transient messages, or persistent ones in no durable queue) to the
   * log, newest first, until what is being written would bring memory under the budget; their
   * blocks go once the writes are durable. Like RabbitMQ's v2 classic queues, a flood of
   * transient messages then costs disk, not memory. Nothing of them is recovered after a restart.
   */
  private pageTransient(): void {
    // A failing log would only lose the pages; they wait until it works again.
    if (this.isLogFailing) return;
    const store = this.store!;
    const candidates = this.transientPageable;
    while (this.bodyBytesInMemory - this.pageWriteBytes > this.memoryBudgetBytes) {
      const message = candidates.pop();
      if (message === undefined) break;
      if (message.copies === 0 || message.block === null || message.segment !== 0) continue;
      message.isPageRecord = true;
      message.appendSeq = store.pageMessage(message, message.block);
      this.awaitingPageWrite.push(message);
      this.pageWriteBytes += message.memoryBytes;
    }
    // Paging waits for the write; a sync request makes that one cycle, not the lazy flush.
    if (this.awaitingPageWrite.length > 0) store.log.requestSync();
  }

  /** Messages whose records became durable may now be paged out. */
  private markDurable(durableSeq: number): void {
    const written = this.awaitingPageWrite;
    for (
      let message = written.peek();
      message !== undefined && message.appendSeq <= durableSeq;
      message = written.peek()
    ) {
      written.shift();
      this.pageWriteBytes -= message.memoryBytes;
      if (message.copies > 0 && message.block !== null) this.pageable.push(message);
    }
    const awaiting = this.awaitingDurability;
    for (
      let message = awaiting.peek();
      message !== undefined && message.appendSeq <= durableSeq;
      message = awaiting.peek()
    ) {
      awaiting.shift();
      if (this.relocating.size > 0) this.relocating.delete(message);
      if (message.copies > 0 && message.block !== null && message.payloadOffset >= 0)
        this.pageable.push(message);
    }
    if (this.bodyBytesInMemory > this.memoryBudgetBytes) {
      this.pageOut();
      // Bodies queued while earlier pages were being written: their turn (the log syncs again).
      if (this.bodyBytesInMemory - this.pageWriteBytes > this.memoryBudgetBytes)
        this.pageTransient();
    }
  }

  /**
   * Forgets consumed messages in the paging lists, so they track live ones: at the old end each
   * batch, and everywhere once a list has doubled since it was last filtered (one long-lived
   * message at the old end must not let consumed ones pile up behind it).
   */
  private prunePageable(): void {
    this.pageableLiveLength = pruneConsumed(this.pageable, this.pageableLiveLength);
    this.transientPageableLiveLength = pruneConsumed(
      this.transientPageable,
      this.transientPageableLiveLength,
    );
  }

  /** Forgets an unacked delivery on its channel and returns its consumer's credit. */
  private release(channel: ShardChannel, delivery: Delivery): void {
    channel.unacked.delete(delivery.deliveryId);
    delivery.queue.unackedCount--;
    const consumer = delivery.consumer;
    if (consumer !== null) {
      consumer.unackedCount--;
      channel.consumerUnackedCount--;
      if (!consumer.isCancelled) this.activate(consumer.queue);
    }
  }

  private requeue(queue: Queue, entry: QueueEntry): void {
    if (queue.isDeleted) {
      this.forgetEntry(queue, entry);
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
        if (this.isLogged(queue, entry))
          this.store!.requeue(queue.queueId, entry.seq, entry.deliveryCount);
        queue.delay(entry, this.nowMs + delayMs);
        this.scheduleRetry(queue);
        return;
      }
    }
    queue.requeue(entry);
    if (this.isLogged(queue, entry))
      this.store!.requeue(queue.queueId, entry.seq, entry.deliveryCount);
    if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
    if (queue.consumers.length > 0) this.activate(queue);
  }

  private activate(queue: Queue): void {
    if (queue.isActive || queue.isDeleted) return;
    queue.isActive = true;
    this.activeQueues.push(queue);
  }

  private dispatch(): void {
    const active = this.activeQueues;
    let index = 0;
    while (index < active.length) {
      if (this.outbox.isBlocked) break;
      const queue = active[index]!;
      const isDone = this.dispatchQueue(queue);
      if (isDone) {
        queue.isActive = false;
        active[index] = active[active.length - 1]!;
        active.pop();
      } else {
        index++;
      }
    }
  }

  /** Delivers from one queue for one turn; true when it has nothing more it can deliver now. */
  private dispatchQueue(queue: Queue): boolean {
    if (queue.isDeleted) return true;
    for (let delivered = 0; delivered < DELIVERIES_PER_TURN; delivered++) {
      if (queue.hasExpiringEntries) this.dropExpiredHead(queue);
      if (queue.readyCount === 0) return true;
      const consumer = queue.nextConsumerWithCredit(this.pausedConnections);
      if (consumer === null) {
        if (this.creditLimitedChannels.size > 0) this.requestCreditFor(queue);
        if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
        return true;
      }
      if (this.outbox.isBlocked) return false;
      this.deliver(queue, queue.take()!, consumer);
    }
    return false;
  }

  private deliver(queue: Queue, entry: QueueEntry, consumer: Consumer): void {
    const deliveryId = this.nextDeliveryId++;
    queue.deliveredCount++;
    const channel = consumer.channel;
    const block = this.blockOf(entry);
    const outbox = this.outbox;
    const at = outbox.begin(DELIVER_HEADER_BYTES + block.length);
    const target = outbox.target;
    target.writeUInt32LE(channel.connectionId, at);
    target.writeUInt16LE(channel.channelId, at + 4);
    target.writeUInt32LE(consumer.consumerId, at + 6);
    target.writeDoubleLE(deliveryId, at + 10);
    const usesCredit = channel.isCreditLimited && !consumer.isNoAck;
    if (usesCredit) channel.credit--;
    target[at + 18] =
      (entry.deliveryCount > 0 ? DELIVER_FLAG_REDELIVERED : 0) |
      (usesCredit ? DELIVER_FLAG_USED_CREDIT : 0);
    block.copy(target, at + DELIVER_HEADER_BYTES);
    outbox.end(EVT_DELIVER, at, at + DELIVER_HEADER_BYTES + block.length);
    if (consumer.isNoAck) {
      this.forgetEntry(queue, entry);
      return;
    }
    // So a restart marks it redelivered if it is never acked (a hint: losing it is harmless).
    if (this.isLogged(queue, entry)) this.store!.delivered(queue.queueId, entry.seq);
    consumer.unackedCount++;
    channel.consumerUnackedCount++;
    queue.unackedCount++;
    channel.unacked.set(deliveryId, new Delivery(entry, queue, consumer, deliveryId));
  }

  private reply(requestId: number, replyCode: number, value: number, replyText = ''): void {
    if (requestId === 0) return;
    const textBytes = this.replyTextBytes.write(replyText, 0, 'utf8');
    const outbox = this.outbox;
    const at = outbox.begin(REPLY_HEADER_BYTES + textBytes);
    const target = outbox.target;
    target.writeUInt32LE(requestId, at);
    target.writeUInt16LE(replyCode, at + 4);
    target.writeDoubleLE(value, at + 6);
    this.replyTextBytes.copy(target, at + REPLY_HEADER_BYTES, 0, textBytes);
    outbox.end(EVT_REPLY, at, at + REPLY_HEADER_BYTES + textBytes);
  }

  private channelFor(connectionId: number, channelId: number): ShardChannel {
    const key = channelKey(connectionId, channelId);
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = new ShardChannel(key, connectionId, channelId);
      this.channels.set(key, channel);
    }
    return channel;
  }

  private control(requestId: number, request: ControlRequest): void {
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
              const message = copy.message;
              if (message.copies++ === 0) {
                if (message.block !== null) this.bodyBytesInMemory += message.memoryBytes;
                if (message.payloadOffset >= 0) this.pageable.push(message);
              }
              queue.restore(copy);
              recovered++;
            }
            // Copies that expired while the broker was down go at the first timer run.
            if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
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
        return this.replyWhenDurable(requestId, needSeq, 0, false);
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
        for (const consumer of queue.consumers) this.dropConsumer(consumer);
        this.queues.delete(request.queueId);
        // One record settles every durable copy; unacked ones are forgotten when they come back.
        if (queue.spec.isDurable && this.store !== null) this.store.queueDeleted(queue.queueId);
        for (const entry of ready) this.forgetEntry(queue, entry);
        return this.reply(requestId, 0, ready.length);
      }
      case 'queue.arguments': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, 0, 0);
        queue.applyArguments(request.arguments);
        this.enforceLengthLimit(queue);
        if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
        if (queue.consumers.length > 0) this.activate(queue);
        return this.reply(requestId, 0, 0);
      }
      case 'queue.purge': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, 0, 0);
        const purged = queue.purge();
        for (const entry of purged) this.forgetEntry(queue, entry);
        return this.reply(requestId, 0, purged.length);
      }
      case 'queue.stats': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
        if (queue.hasExpiringEntries) this.dropExpiredHead(queue);
        return this.reply(requestId, 0, queue.readyCount);
      }
      case 'consume': {
        const queue = this.queues.get(request.queueId);
        if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
        const channel = this.channelFor(request.connectionId, request.channelId);
        this.setCreditLimited(channel, request.isChannelCreditLimited);
        const consumer = new Consumer(
          request.consumerId,
          queue,
          channel,
          request.prefetchCount,
          request.isNoAck,
          request.priority,
        );
        this.consumers.set(request.consumerId, consumer);
        channel.consumers.add(consumer);
        queue.addConsumer(consumer);
        this.activate(queue);
        return this.reply(requestId, 0, 0);
      }
      case 'cancel': {
        const consumer = this.consumers.get(request.consumerId);
        if (consumer !== undefined) {
          this.dropConsumer(consumer);
          consumer.queue.removeConsumer(consumer);
        }
        return this.reply(requestId, 0, 0);
      }
      case 'get':
        return this.get(
          requestId,
          request.queueId,
          request.connectionId,
          request.channelId,
          request.isNoAck,
        );
      case 'channel.qos': {
        const channel = this.channelFor(request.connectionId, request.channelId);
        this.setCreditLimited(channel, request.isCreditLimited);
        for (const consumer of channel.consumers) this.activate(consumer.queue);
        return this.reply(requestId, 0, 0);
      }
      case 'channel.close': {
        const channel = this.channels.get(channelKey(request.connectionId, request.channelId));
        if (channel !== undefined) {
          for (const consumer of channel.consumers) {
            consumer.isCancelled = true;
            consumer.queue.removeConsumer(consumer);
            this.consumers.delete(consumer.consumerId);
          }
          channel.consumers.clear();
          this.requeueAll(channel);
          this.channels.delete(channel.key);
          this.creditLimitedChannels.delete(channel);
        }
        return this.reply(requestId, 0, 0);
      }
      case 'channel.recover': {
        const channel = this.channels.get(channelKey(request.connectionId, request.channelId));
        if (channel !== undefined) this.requeueAll(channel);
        return this.reply(requestId, 0, 0);
      }
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
      this.priorityIn(queue, block),
    );
    entry.deliveryCount = copy.deliveryCount;
    return entry;
  }

  private dropConsumer(consumer: Consumer): void {
    consumer.isCancelled = true;
    consumer.channel.consumers.delete(consumer);
    this.consumers.delete(consumer.consumerId);
  }

  /** Requeues every unacked delivery of a channel, oldest first. */
  private requeueAll(channel: ShardChannel): void {
    for (const delivery of channel.unacked.values()) {
      const consumer = delivery.consumer;
      if (consumer !== null) {
        consumer.unackedCount--;
        channel.consumerUnackedCount--;
      }
      delivery.queue.unackedCount--;
      this.requeue(delivery.queue, delivery.entry);
    }
    channel.unacked.clear();
    for (const consumer of channel.consumers) this.activate(consumer.queue);
  }

  private get(
    requestId: number,
    queueId: number,
    connectionId: number,
    channelId: number,
    isNoAck: boolean,
  ): void {
    const queue = this.queues.get(queueId);
    if (queue === undefined) return this.reply(requestId, NOT_FOUND, 0, 'no such queue');
    if (queue.hasExpiringEntries) this.dropExpiredHead(queue);
    const entry = queue.take();
    // The head changed: the timer must stand for the new one.
    if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
    if (entry === undefined) return this.reply(requestId, 0, 0);
    const deliveryId = this.nextDeliveryId++;
    queue.deliveredCount++;
    const block = this.blockOf(entry);
    const outbox = this.outbox;
    const at = outbox.begin(GET_OK_HEADER_BYTES + block.length);
    const target = outbox.target;
    target.writeUInt32LE(requestId, at);
    target.writeDoubleLE(deliveryId, at + 4);
    target[at + 12] = entry.deliveryCount > 0 ? 1 : 0;
    target.writeUInt32LE(queue.readyCount, at + 13);
    block.copy(target, at + GET_OK_HEADER_BYTES);
    outbox.end(EVT_GET_OK, at, at + GET_OK_HEADER_BYTES + block.length);
    if (isNoAck) {
      this.forgetEntry(queue, entry);
      return;
    }
    if (this.isLogged(queue, entry)) this.store!.delivered(queue.queueId, entry.seq);
    const channel = this.channelFor(connectionId, channelId);
    queue.unackedCount++;
    channel.unacked.set(deliveryId, new Delivery(entry, queue, null, deliveryId));
  }

  /** The message block of a copy, read back from the log when it was paged out. */
  private blockOf(entry: QueueEntry): Buffer {
    const message = entry.message;
    if (message.block !== null) return message.block;
    return this.store!.readBlock(message);
  }

  /**
   * Compaction: re-appends every live message whose record is in `segment` (with only its live
   * copies), so the old, mostly dead segment can go once the copies are durable.
   */
  private relocate(segment: number): void {
    this.relocateWhere((message) => message.segment === segment && message.payloadOffset >= 0);
    this.store!.relocateDefinitions(segment);
  }

  /** Appends again every logged message `isMoved` picks, with its live copies. */
  private relocateWhere(isMoved: (message: StoredMessage) => boolean): void {
    const store = this.store!;
    const copies = new Map<StoredMessage, [Queue, QueueEntry][]>();
    const paged = new Set<StoredMessage>();
    const collect = (queue: Queue, entry: QueueEntry) => {
      const message = entry.message;
      if (message.isPageRecord) {
        if (isMoved(message)) paged.add(message);
        return;
      }
      if (!this.isLogged(queue, entry) || !isMoved(message)) return;
      let list = copies.get(message);
      if (list === undefined) copies.set(message, (list = []));
      list.push([queue, entry]);
    };
    for (const queue of this.queues.values()) queue.forEachHeld((entry) => collect(queue, entry));
    for (const channel of this.channels.values()) {
      for (const delivery of channel.unacked.values()) collect(delivery.queue, delivery.entry);
    }
    for (const [message, entries] of copies) {
      const block = message.block ?? store.readBlock(message);
      for (let i = 0; i < entries.length; i++) {
        if (i === this.durableQueueIds.length) this.growDurableScratch();
        this.durableQueueIds[i] = entries[i]![0].queueId;
        this.durableSeqs[i] = entries[i]![1].seq;
        this.durableExpiries[i] = expiresAtOf(entries[i]![1]);
      }
      message.appendSeq = store.relocateMessage(
        message,
        block,
        this.durableQueueIds,
        this.durableSeqs,
        entries.length,
        message.isTimedRecord ? this.durableExpiries : null,
      );
      if (message.block === null) {
        // Its new record is not on disk yet: hold the body until it is, then it may page out again.
        message.block = block;
        this.bodyBytesInMemory += message.memoryBytes;
      }
      this.awaitingDurability.push(message);
      this.relocating.add(message);
    }
    for (const message of paged) {
      const block = message.block ?? store.readBlock(message);
      message.appendSeq = store.relocatePage(message, block);
      if (message.block === null) {
        message.block = block;
        this.bodyBytesInMemory += message.memoryBytes;
      }
      this.awaitingPageWrite.push(message);
      this.pageWriteBytes += message.memoryBytes;
    }
  }

  private setCreditLimited(channel: ShardChannel, isCreditLimited: boolean): void {
    channel.isCreditLimited = isCreditLimited;
    if (isCreditLimited) {
      this.creditLimitedChannels.add(channel);
      return;
    }
    channel.credit = 0;
    channel.isCreditRequested = false;
    this.creditLimitedChannels.delete(channel);
  }

  /** A queue has messages but no consumer may take one: ask for credit where that is why. */
  private requestCreditFor(queue: Queue): void {
    if (queue.readyCount === 0) return;
    for (const consumer of queue.consumers) {
      const channel = consumer.channel;
      if (channel.isCreditRequested || !consumer.isWaitingForChannelCredit()) continue;
      if (!queue.isConsumerActive(consumer)) continue;
      channel.isCreditRequested = true;
      this.writeCredit(channel, 0);
    }
  }

  private addCredit(connectionId: number, channelId: number, amount: number): void {
    const channel = this.channels.get(channelKey(connectionId, channelId));
    // Credit for a channel closed meanwhile: the network thread forgot it too.
    if (channel === undefined || !channel.isCreditLimited) return;
    channel.credit += amount;
    channel.isCreditRequested = false;
    for (const consumer of channel.consumers) this.activate(consumer.queue);
  }

  /** Gives back credit a channel holds here while none of its consumers' queues has work. */
  private returnIdleCredit(): void {
    for (const channel of this.creditLimitedChannels) {
      if (channel.credit === 0) continue;
      let hasWork = false;
      for (const consumer of channel.consumers) {
        if (consumer.queue.readyCount > 0 && consumer.queue.isConsumerActive(consumer)) {
          hasWork = true;
          break;
        }
      }
      if (hasWork) continue;
      this.writeCredit(channel, channel.credit);
      channel.credit = 0;
    }
  }

  private writeCredit(channel: ShardChannel, amount: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(CREDIT_BYTES);
    const target = outbox.target;
    target.writeUInt32LE(channel.connectionId, at);
    target.writeUInt16LE(channel.channelId, at + 4);
    target.writeUInt32LE(amount, at + 6);
    outbox.end(EVT_CREDIT, at, at + CREDIT_BYTES);
  }

  private connectionFlow(connectionId: number, isPaused: boolean): void {
    if (isPaused) {
      this.pausedConnections.add(connectionId);
      return;
    }
    this.pausedConnections.delete(connectionId);
    for (const consumer of this.consumers.values()) {
      if (consumer.channel.connectionId === connectionId) this.activate(consumer.queue);
    }
  }
}

const PAGING_LIST_FILTER_MIN = 4096;

/** Drops consumed messages from a paging list; returns the live length to filter again at. */
function pruneConsumed(list: Fifo<StoredMessage>, liveLength: number): number {
  for (let message = list.peek(); message !== undefined && message.copies === 0;) {
    list.shift();
    message = list.peek();
  }
  if (list.length <= Math.max(PAGING_LIST_FILTER_MIN, liveLength * 2)) return liveLength;
  list.retain(isHeldInMemory);
  return list.length;
}

function isHeldInMemory(message: StoredMessage): boolean {
  return message.copies > 0 && message.block !== null;
}
