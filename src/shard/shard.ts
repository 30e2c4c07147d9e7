// A shard: the owner of a set of queues, their messages, consumers and unacked deliveries, and
// the composition root of the shard thread: it builds the pieces below and routes each command
// record to the one that applies it. Shard thread only. It reads commands from its input ring in
// order and answers on its output ring, so everything the network thread sent earlier is applied
// before anything it sent later. Persistent messages in durable queues go to the shard's log
// once; a publish is confirmed when the log append it needed is durable (at once when it needed
// none), in order.

import { unpack } from 'msgpackr';
import { assert } from '../util/index.js';
import type { RingOutbox, RingSink } from '../util/index.js';
import { ActiveQueues } from './active-queues.js';
import { BatchClock, type Clock } from './batch-clock.js';
import { ChannelCredit } from './channel-credit.js';
import { ConsumerDispatch } from './consumer-dispatch.js';
import { ControlRequests } from './control-requests.js';
import { DurableReplies } from './durable-replies.js';
import { MessageMemory } from './message-memory.js';
import type { MessageStore } from './message-store.js';
import { PendingConfirms } from './pending-confirms.js';
import { Publisher } from './publisher.js';
import type { Queue, ShardChannel } from './queue.js';
import { QueueRules } from './queue-rules.js';
import { QueueTimers } from './queue-timers.js';
import {
  CMD_CONNECTION_FLOW,
  CMD_CONTROL,
  CMD_CREDIT,
  CMD_PUBLISH,
  CMD_SETTLE,
  CMD_TRANSACTION,
  type ControlRequest,
  controlRequestStart,
  readChannelId,
  readConnectionFlowIsPaused,
  readConnectionId,
  readControlRequestId,
  readCreditAmount,
  type ShardStats,
} from './records.js';
import { ShardEvents } from './shard-events.js';
import { shardStats } from './shard-stats.js';
import type { StoredMessage } from './stored-message.js';
import { type TransactionParts, Transactions } from './transactions.js';

export type { Clock } from './batch-clock.js';

export class Shard implements RingSink, TransactionParts {
  readonly shardIndex: number;
  /** The shard's log; null runs the shard in memory only. */
  private readonly store: MessageStore | null;
  private readonly clock: BatchClock;
  private readonly events: ShardEvents;
  private readonly pendingConfirms = new PendingConfirms();
  private readonly replies: DurableReplies;
  private readonly queues = new Map<number, Queue>();
  private readonly channels = new Map<number, ShardChannel>();
  private readonly active = new ActiveQueues();
  private readonly timers: QueueTimers;
  private readonly memory: MessageMemory;
  private readonly rules: QueueRules;
  private readonly credit: ChannelCredit;
  private readonly dispatch: ConsumerDispatch;
  private readonly publisher: Publisher;
  private readonly transactions: Transactions;
  private readonly control: ControlRequests;
  /** Told when the log starts failing (disk full, I/O error) and when it works again. */
  onLogHealth: (isFailing: boolean, reason: string) => void = () => {};

  constructor(
    shardIndex: number,
    outbox: RingOutbox,
    store: MessageStore | null,
    memoryBudgetBytes = Infinity,
    clock: Clock = Date.now,
  ) {
    this.shardIndex = shardIndex;
    this.store = store;
    this.clock = new BatchClock(clock);
    const events = (this.events = new ShardEvents(outbox));
    this.replies = new DurableReplies(events, store?.log ?? null);
    this.timers = new QueueTimers(this.active);
    this.memory = new MessageMemory(store, memoryBudgetBytes, this.queues, this.channels);
    const pausedConnections = new Set<number>();
    this.rules = new QueueRules(
      this.clock,
      store,
      this.memory,
      events,
      this.timers,
      this.active,
      pausedConnections,
    );
    this.credit = new ChannelCredit(events, this.active);
    this.dispatch = new ConsumerDispatch(
      this.channels,
      pausedConnections,
      this.active,
      this.credit,
      this.rules,
      this.timers,
      this.memory,
      store,
      events,
    );
    this.publisher = new Publisher(
      this.queues,
      store,
      this.memory,
      this.rules,
      this.active,
      this.pendingConfirms,
      events,
    );
    this.transactions = new Transactions(this, store, this.memory, this.replies);
    this.control = new ControlRequests(
      this.queues,
      store,
      this.memory,
      this.rules,
      this.timers,
      this.active,
      this.dispatch,
      this.credit,
      this.replies,
      events,
    );
    if (store !== null) {
      store.log.onDurable = (durableSeq) => this.onDurable(durableSeq);
      store.log.onCompact = (segment) => this.memory.relocate(segment);
      store.log.onWriteFailed = (error) => this.onWriteFailed(error);
      store.log.onWriteRecovered = () => {
        this.memory.isLogFailing = false;
        this.onLogHealth(false, '');
      };
    }
  }

  get queueCount(): number {
    return this.queues.size;
  }

  /** The coarse clock: read once per batch and per timer run. */
  get nowMs(): number {
    return this.clock.nowMs;
  }

  /** Bytes of queued message blocks held in memory. */
  get bodyBytesInMemory(): number {
    return this.memory.bodyBytesInMemory;
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    switch (type) {
      case CMD_PUBLISH:
        this.publisher.publish(bytes, start, end);
        return;
      case CMD_SETTLE:
        this.dispatch.settle(bytes, start);
        return;
      case CMD_TRANSACTION:
        this.transactions.apply(bytes, start, end);
        return;
      case CMD_CONTROL:
        this.control.handle(
          readControlRequestId(bytes, start),
          unpack(bytes.subarray(controlRequestStart(start), end)) as ControlRequest,
        );
        return;
      case CMD_CONNECTION_FLOW:
        this.dispatch.connectionFlow(
          readConnectionId(bytes, start),
          readConnectionFlowIsPaused(bytes, start),
        );
        return;
      case CMD_CREDIT:
        this.dispatch.addCredit(
          readConnectionId(bytes, start),
          readChannelId(bytes, start),
          readCreditAmount(bytes, start),
        );
        return;
      default:
        assert(false, `unknown command record ${type}`);
    }
  }

  // TransactionParts: a transaction's nested records go down the same paths as lone ones.

  beginTransaction(): void {
    this.publisher.beginTransaction();
  }

  publish(bytes: Buffer, start: number, end: number): void {
    this.publisher.publish(bytes, start, end);
  }

  settle(bytes: Buffer, start: number): void {
    this.dispatch.settle(bytes, start);
  }

  endTransaction(): StoredMessage[] {
    return this.publisher.endTransaction();
  }

  /** Starts a batch of commands: reads the clock once for all of them. */
  beginBatch(): void {
    this.clock.tick();
  }

  /** When the shard's timer should next run (ms since the epoch), or Infinity for never. */
  nextTimerAtMs(): number {
    return this.timers.nextAtMs();
  }

  /**
   * The timer: drops or dead-letters the expired heads of queues whose time has come, then
   * schedules their next head; returns delayed retries to their queues. Call afterBatch() after.
   */
  runTimers(): void {
    this.clock.tick();
    this.timers.run(this.clock.nowMs, this.rules);
  }

  /**
   * Ends a batch of commands: runs deliveries, writes the batch's log records and starts their
   * sync, and sends the confirms that need no wait.
   */
  afterBatch(): void {
    this.dispatch.dispatch();
    if (this.credit.hasLimitedChannels) this.credit.returnIdle();
    const store = this.store;
    if (store !== null) {
      store.flushRefs();
      this.memory.afterBatch();
      store.log.flush();
    }
    if (this.pendingConfirms.length > 0) this.pendingConfirms.drain(this.durableSeq, this.events);
    this.events.flush();
  }

  /** Whether there is delivery work left that a later turn should do. */
  hasDispatchWork(): boolean {
    return this.dispatch.hasWork();
  }

  /** Sampled counters for management: read on request, never pushed per message. */
  stats(): Omit<ShardStats, 'heap'> {
    return shardStats(
      this.shardIndex,
      this.queues,
      this.memory.bodyBytesInMemory,
      this.pendingConfirms.length,
      this.store?.log ?? null,
    );
  }

  private get durableSeq(): number {
    return this.store === null ? Infinity : this.store.log.durableSeq;
  }

  /** The log made appends up to `durableSeq` durable: confirm what waited for them. */
  private onDurable(durableSeq: number): void {
    this.store!.onDurable(durableSeq);
    this.memory.markDurable(durableSeq);
    this.pendingConfirms.drain(durableSeq, this.events);
    this.replies.drain(durableSeq);
    this.events.flush();
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
    this.memory.markDurable(durableSeq);
    this.pendingConfirms.fail(durableSeq, this.events);
    const lostRelocations = this.memory.dropLostAppends();
    const definitionSeq = store.rewriteLostDefinitions(durableSeq);
    this.replies.fail(durableSeq, definitionSeq, error);
    this.memory.relocateLost(lostRelocations);
    store.flushRefs();
    store.log.requestSync();
    this.events.flush();
    // Said once per failing spell: the probes that fail after it add nothing.
    if (!this.memory.isLogFailing) this.onLogHealth(true, error.message);
    this.memory.isLogFailing = true;
  }
}
