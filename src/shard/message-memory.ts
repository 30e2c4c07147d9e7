// What the shard's messages cost in memory and which of their bodies may leave it: counts the
// bytes of held blocks, pages bodies out to the log over the memory budget (logged ones once
// durable, unlogged ones written as LOG_PAGED), reads them back, and re-appends live messages
// when compaction or a failed write needs them written again. Shard thread only. Invariant: a
// body leaves memory only once a durable record holds it; bodyBytesInMemory is the sum of
// memoryBytes over messages with copies > 0 and a block in memory.

import { Fifo } from '../util/index.js';
import type { MessageStore } from './message-store.js';
import { expiresAtOf, type Queue, type QueueEntry, type ShardChannel } from './queue.js';
import type { StoredMessage } from './stored-message.js';

const PAGING_LIST_FILTER_MIN = 4096;

/**
 * Whether a copy is in the log: a logged message (only persistent ones are) in a durable queue.
 * A persistent message is logged for every durable queue it reaches, so this is exact.
 */
export function isLogged(queue: Queue, entry: QueueEntry): boolean {
  const message = entry.message;
  return queue.spec.isDurable && message.segment !== 0 && !message.isPageRecord;
}

/** Scratch for one message's durable copies, filled per publish or relocation: no allocation. */
export class CopyRefs {
  queueIds = new Uint32Array(64);
  seqs = new Float64Array(64);
  expiries = new Float64Array(64);

  /** Doubles the room, keeping what is filled in. */
  grow(): void {
    const ids = new Uint32Array(this.queueIds.length * 2);
    ids.set(this.queueIds);
    this.queueIds = ids;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const expiries = new Float64Array(this.expiries.length * 2);
    expiries.set(this.expiries);
    this.expiries = expiries;
  }
}

export class MessageMemory {
  /** Bytes of queued message blocks held in memory. */
  bodyBytesInMemory = 0;
  /** Set while the log fails (disk full, I/O error): unlogged bodies then stay in memory. */
  isLogFailing = false;
  readonly copyRefs = new CopyRefs();
  private readonly store: MessageStore | null;
  private readonly memoryBudgetBytes: number;
  private readonly queues: ReadonlyMap<number, Queue>;
  private readonly channels: ReadonlyMap<number, ShardChannel>;
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

  /** `queues` and `channels` are the shard's own maps: relocation visits every copy in them. */
  constructor(
    store: MessageStore | null,
    memoryBudgetBytes: number,
    queues: ReadonlyMap<number, Queue>,
    channels: ReadonlyMap<number, ShardChannel>,
  ) {
    this.store = store;
    this.memoryBudgetBytes = memoryBudgetBytes;
    this.queues = queues;
    this.channels = channels;
  }

  private get durableSeq(): number {
    return this.store === null ? Infinity : this.store.log.durableSeq;
  }

  /** A queue took a copy of `message`: its block counts from the first copy on. */
  holdCopy(message: StoredMessage): void {
    if (message.copies++ === 0) this.bodyBytesInMemory += message.memoryBytes;
  }

  /** A recovered copy joins its queue: a durable record already holds its body. */
  holdRecoveredCopy(message: StoredMessage): void {
    if (message.copies++ === 0) {
      if (message.block !== null) this.bodyBytesInMemory += message.memoryBytes;
      if (message.payloadOffset >= 0) this.pageable.push(message);
    }
  }

  /** A logged message's record was appended: its body may page out once that is durable. */
  awaitDurability(message: StoredMessage): void {
    this.awaitingDurability.push(message);
  }

  /** An unlogged message was queued: under memory pressure even its body may go to the log. */
  offerUnlogged(message: StoredMessage): void {
    if (this.bodyBytesInMemory > this.memoryBudgetBytes / 2) {
      if (this.store !== null) this.transientPageable.push(message);
    }
  }

  /** A copy left its queue for good: the log learns it is settled, and memory is counted down. */
  forget(queue: Queue, entry: QueueEntry): void {
    const message = entry.message;
    queue.heldBytes -= message.memoryBytes;
    if (--message.copies === 0) {
      if (message.block !== null) this.bodyBytesInMemory -= message.memoryBytes;
      if (message.isPageRecord) this.store!.releasePage(message);
    }
    if (!isLogged(queue, entry)) return;
    // A deleted queue's copies were settled by its deletion record.
    if (queue.isDeleted) this.store!.forget(message);
    else this.store!.settle(message, queue.queueId, entry.seq);
  }

  /** The message block of a copy, read back from the log when it was paged out. */
  blockOf(entry: QueueEntry): Buffer {
    const message = entry.message;
    if (message.block !== null) return message.block;
    return this.store!.readBlock(message);
  }

  /** End of a batch: keeps the paging lists short and bodies within the budget. */
  afterBatch(): void {
    this.prunePageable();
    if (this.bodyBytesInMemory > this.memoryBudgetBytes) {
      this.pageOut();
      if (this.bodyBytesInMemory - this.pageWriteBytes > this.memoryBudgetBytes)
        this.pageTransient();
    }
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
  markDurable(durableSeq: number): void {
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
   * The log lost every append after its durableSeq. Messages whose records were lost live on in
   * memory only; lost page writes leave their bodies in memory, to page again once it heals.
   * Returns the lost relocations: compacted copies of messages confirmed long ago, which must
   * be written again (relocateLost) after whatever else is rewritten first.
   */
  dropLostAppends(): Set<StoredMessage> {
    const store = this.store!;
    const lostRelocations = new Set<StoredMessage>();
    for (let message = this.awaitingDurability.shift(); message !== undefined;) {
      if (this.relocating.has(message)) lostRelocations.add(message);
      else store.unlog(message);
      message = this.awaitingDurability.shift();
    }
    this.relocating.clear();
    for (let message = this.awaitingPageWrite.shift(); message !== undefined;) {
      this.pageWriteBytes -= message.memoryBytes;
      store.unpage(message);
      message.isPageRecord = false;
      if (message.copies > 0) this.transientPageable.push(message);
      message = this.awaitingPageWrite.shift();
    }
    return lostRelocations;
  }

  /** Appends again the relocations dropLostAppends() found lost. */
  relocateLost(lostRelocations: Set<StoredMessage>): void {
    if (lostRelocations.size > 0) this.relocateWhere((message) => lostRelocations.has(message));
  }

  /**
   * Compaction: re-appends every live message whose record is in `segment` (with only its live
   * copies), so the old, mostly dead segment can go once the copies are durable.
   */
  relocate(segment: number): void {
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
      if (!isLogged(queue, entry) || !isMoved(message)) return;
      let list = copies.get(message);
      if (list === undefined) copies.set(message, (list = []));
      list.push([queue, entry]);
    };
    for (const queue of this.queues.values()) queue.forEachHeld((entry) => collect(queue, entry));
    for (const channel of this.channels.values()) {
      for (const delivery of channel.unacked.values()) collect(delivery.queue, delivery.entry);
    }
    const refs = this.copyRefs;
    for (const [message, entries] of copies) {
      const block = message.block ?? store.readBlock(message);
      for (let i = 0; i < entries.length; i++) {
        if (i === refs.queueIds.length) refs.grow();
        refs.queueIds[i] = entries[i]![0].queueId;
        refs.seqs[i] = entries[i]![1].seq;
        refs.expiries[i] = expiresAtOf(entries[i]![1]);
      }
      message.appendSeq = store.relocateMessage(
        message,
        block,
        refs.queueIds,
        refs.seqs,
        entries.length,
        message.isTimedRecord ? refs.expiries : null,
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
}

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
