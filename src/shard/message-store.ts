// A shard's durable state on top of its log: persistent messages in durable queues, their
// settlements, requeues and delivery hints, and (on every shard) the durable definitions the
// network thread asks it to keep. Shard thread only. Invariants: a message is written once per
// shard however many of its queues it reaches; a record is retained in the log while any of its
// queue copies is unsettled; settlements are appended after the message they settle (log order),
// so recovery never sees an ack for a message it has not seen.
// Over 600 lines because every record type's write and its replay at recovery sit side by side:
// the invariants above hold only if both change together.

import { pack, unpack } from 'msgpackr';
import { assert } from '../util/index.js';
import type { SegmentedLog } from '../log/index.js';
import { QueueEntry, TimedQueueEntry } from './queue.js';
import { BLOCK_OVERHEAD_BYTES, bodyBytesOf, StoredMessage } from './stored-message.js';
import {
  LOG_DEFINITION,
  LOG_DELIVERED,
  LOG_MESSAGE,
  LOG_MESSAGE_TIMED,
  LOG_PAGED,
  LOG_QUEUE_DELETED,
  LOG_REQUEUED,
  LOG_SETTLED,
  LOG_TRANSACTION,
  MESSAGE_HEADER_BYTES,
  NESTED_HEADER_BYTES,
  REF_BYTES,
  REQUEUE_REF_BYTES,
  TIMED_REF_BYTES,
} from './log-records.js';

/** Where a logged message lives and how many of its durable queue copies are unsettled. */
export interface LoggedMessage {
  /** 0 when not logged. */
  segment: number;
  /** Offset of the record's payload in its segment. */
  payloadOffset: number;
  payloadBytes: number;
  liveRefs: number;
  /** Whether the record is LOG_MESSAGE_TIMED (its refs carry expiry times). */
  isTimedRecord: boolean;
}

/** A queue copy as recovery finds it: the queue entry it becomes, built once. */
export type RecoveredCopy = QueueEntry;

/** A durable definition (exchange, queue, binding, user, vhost, permission) as plain data. */
export interface DefinitionRecord {
  kind: string;
  key: string;
  value: unknown;
}

/** A list of (queueId, seq[, count]) references gathered during a batch, written as one record. */
class RefBatch {
  queueIds = new Uint32Array(256);
  seqs = new Float64Array(256);
  counts = new Uint32Array(256);
  length = 0;

  push(queueId: number, seq: number, count: number): void {
    if (this.length === this.queueIds.length) {
      const grow = <T extends Uint32Array | Float64Array>(array: T, make: (n: number) => T): T => {
        const grown = make(array.length * 2);
        grown.set(array);
        return grown;
      };
      this.queueIds = grow(this.queueIds, (n) => new Uint32Array(n));
      this.seqs = grow(this.seqs, (n) => new Float64Array(n));
      this.counts = grow(this.counts, (n) => new Uint32Array(n));
    }
    this.queueIds[this.length] = queueId;
    this.seqs[this.length] = seq;
    this.counts[this.length] = count;
    this.length++;
  }
}

export class MessageStore {
  readonly log: SegmentedLog;
  private nextMessageId = 1;
  private readonly settled = new RefBatch();
  private readonly requeued = new RefBatch();
  private readonly deliveredRefs = new RefBatch();
  /** Recovered copies by queue id, until the network thread claims or discards them. */
  readonly recovered = new Map<number, Map<number, RecoveredCopy>>();
  /** Durable definitions by `${kind}\u0000${key}`, with where their record is. */
  readonly definitions = new Map<
    string,
    { record: DefinitionRecord; segment: number; bytes: number }
  >();
  /** Definition records appended and not yet known durable, oldest first, with their seqs. */
  private unsyncedDefinitions: DefinitionRecord[] = [];
  private unsyncedDefinitionSeqs: number[] = [];
  /** Collects a transaction's records instead of appending them, while set. */
  private transaction: Buffer[] | null = null;

  /** Bodies recovery may keep in memory; the rest stay in the log. */
  private readonly recoveryBudgetBytes: number;
  private recoveredMemoryBytes = 0;
  /** Set from construction until the network thread has claimed the recovered queues. */
  private isRecovering = true;

  constructor(log: SegmentedLog, recoveryBudgetBytes = Infinity) {
    this.log = log;
    this.recoveryBudgetBytes = recoveryBudgetBytes;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Logs a message once for its durable copies `queueIds[i]`/`seqs[i]`, i < count, and fills in
   * where it went. With `expiries`, copy i expires at `expiries[i]` (a LOG_MESSAGE_TIMED
   * record). Returns the append sequence number (durable once the log says so).
   */
  logMessage(
    message: LoggedMessage,
    block: Buffer,
    queueIds: Uint32Array,
    seqs: Float64Array,
    count: number,
    expiries: Float64Array | null = null,
  ): number {
    const refBytes = expiries === null ? REF_BYTES : TIMED_REF_BYTES;
    const type = expiries === null ? LOG_MESSAGE : LOG_MESSAGE_TIMED;
    message.isTimedRecord = expiries !== null;
    const payloadBytes = MESSAGE_HEADER_BYTES + count * refBytes + block.length;
    // Ids only tell records apart in the log (a relocated copy gets a new one); memory keeps none.
    const messageId = this.nextMessageId++;
    if (this.transaction !== null) {
      const payload = Buffer.allocUnsafe(payloadBytes);
      this.writeMessage(payload, 0, messageId, queueIds, seqs, count, block, expiries);
      this.transaction.push(nested(type, payload));
      message.liveRefs = count;
      return 0;
    }
    const log = this.log;
    const at = log.beginAppend(payloadBytes);
    this.writeMessage(log.batch, at, messageId, queueIds, seqs, count, block, expiries);
    const seq = log.endAppend(type, payloadBytes);
    this.placeAppended(message, payloadBytes);
    message.liveRefs = count;
    return seq;
  }

  /** The message's record is the one just appended: remember where, and keep it alive. */
  private placeAppended(message: LoggedMessage, payloadBytes: number): void {
    message.segment = this.log.lastSegment;
    message.payloadOffset = this.log.lastPayloadOffset;
    message.payloadBytes = payloadBytes;
    this.log.retain(message.segment, payloadBytes);
  }

  private writeMessage(
    target: Buffer,
    at: number,
    messageId: number,
    queueIds: Uint32Array,
    seqs: Float64Array,
    count: number,
    block: Buffer,
    expiries: Float64Array | null,
  ): void {
    target.writeDoubleLE(messageId, at);
    target.writeUInt16LE(count, at + 8);
    let offset = at + MESSAGE_HEADER_BYTES;
    const refBytes = expiries === null ? REF_BYTES : TIMED_REF_BYTES;
    for (let i = 0; i < count; i++, offset += refBytes) {
      target.writeUInt32LE(queueIds[i]!, offset);
      target.writeDoubleLE(seqs[i]!, offset + 4);
      if (expiries !== null) target.writeDoubleLE(expiries[i]!, offset + 12);
    }
    block.copy(target, offset);
  }

  /**
   * Writes an unlogged message's block out so it may leave memory once the write is durable
   * (paging under the memory budget). Returns the append sequence number.
   */
  pageMessage(message: LoggedMessage, block: Buffer): number {
    assert(this.transaction === null, 'paging inside a transaction');
    const payloadBytes = MESSAGE_HEADER_BYTES + block.length;
    const log = this.log;
    const at = log.beginAppend(payloadBytes);
    this.writeMessage(log.batch, at, this.nextMessageId++, NO_QUEUE_IDS, NO_SEQS, 0, block, null);
    const seq = log.endAppend(LOG_PAGED, payloadBytes);
    this.placeAppended(message, payloadBytes);
    message.isTimedRecord = false;
    return seq;
  }

  /** A page write was lost (the log failed): the message is in memory only again. */
  unpage(message: LoggedMessage): void {
    if (message.segment !== 0) this.log.release(message.segment, message.payloadBytes);
    message.segment = 0;
    message.payloadOffset = 0;
    message.payloadBytes = 0;
  }

  /** A paged message left its last queue: its record is dead. */
  releasePage(message: LoggedMessage): void {
    this.log.release(message.segment, message.payloadBytes);
  }

  /** Compaction: writes a paged message again at the head of the log and frees its old record. */
  relocatePage(message: LoggedMessage, block: Buffer): number {
    const oldSegment = message.segment;
    const oldBytes = message.payloadBytes;
    const seq = this.pageMessage(message, block);
    this.log.release(oldSegment, oldBytes);
    return seq;
  }

  /** A durable copy was acked or dropped; frees the record when it was the last copy. */
  settle(message: LoggedMessage, queueId: number, seq: number): void {
    this.settled.push(queueId, seq, 0);
    this.dropRef(message);
  }

  /** A durable copy is gone without a record of its own (its queue's deletion covers it). */
  forget(message: LoggedMessage): void {
    this.dropRef(message);
  }

  private dropRef(message: LoggedMessage): void {
    message.liveRefs--;
    if (
      message.liveRefs === 0 &&
      this.isRecovering &&
      message instanceof StoredMessage &&
      message.block !== null
    ) {
      this.recoveredMemoryBytes -= message.memoryBytes;
    }
    assert(
      message.liveRefs >= 0,
      `a message in segment ${message.segment} settled more often than it was stored`,
    );
    // A message held only inside an uncommitted transaction record has no segment yet.
    if (message.liveRefs === 0 && message.segment !== 0)
      this.log.release(message.segment, message.payloadBytes);
  }

  requeue(queueId: number, seq: number, deliveryCount: number): void {
    this.requeued.push(queueId, seq, deliveryCount);
  }

  delivered(queueId: number, seq: number): void {
    this.deliveredRefs.push(queueId, seq, 0);
  }

  queueDeleted(queueId: number): void {
    this.flushRefs();
    this.appendOrHold(LOG_QUEUE_DELETED, u32(queueId));
  }

  /** Writes the settlements, requeues and hints gathered in this batch as one record each. */
  flushRefs(): void {
    this.writeRefs(LOG_SETTLED, this.settled, false);
    this.writeRefs(LOG_REQUEUED, this.requeued, true);
    this.writeRefs(LOG_DELIVERED, this.deliveredRefs, false);
  }

  private writeRefs(type: number, refs: RefBatch, withCounts: boolean): void {
    const count = refs.length;
    if (count === 0) return;
    const refBytes = withCounts ? REQUEUE_REF_BYTES : REF_BYTES;
    const payloadBytes = 4 + count * refBytes;
    const payload = this.transaction !== null ? Buffer.allocUnsafe(payloadBytes) : null;
    const at = payload !== null ? 0 : this.log.beginAppend(payloadBytes);
    const target = payload ?? this.log.batch;
    target.writeUInt32LE(count, at);
    let offset = at + 4;
    for (let i = 0; i < count; i++, offset += refBytes) {
      target.writeUInt32LE(refs.queueIds[i]!, offset);
      target.writeDoubleLE(refs.seqs[i]!, offset + 4);
      if (withCounts) target.writeUInt32LE(refs.counts[i]!, offset + 12);
    }
    refs.length = 0;
    if (payload !== null) this.transaction!.push(nested(type, payload));
    else this.log.endAppend(type, payloadBytes);
  }

  private appendOrHold(type: number, payload: Buffer): number {
    if (this.transaction !== null) {
      this.transaction.push(nested(type, payload));
      return 0;
    }
    return this.log.append(type, payload);
  }

  /** Starts collecting records for one atomic transaction record. */
  beginTransaction(): void {
    assert(this.transaction === null, 'nested transaction');
    this.flushRefs();
    this.transaction = [];
  }

  /**
   * Appends everything collected since beginTransaction() as one record, so after a crash it is
   * all there or none of it. `messages` get their place in the log. Returns its append seq.
   */
  commitTransaction(messages: readonly LoggedMessage[]): number {
    this.flushRefs();
    const parts = this.transaction;
    assert(parts !== null, 'commit without a transaction');
    this.transaction = null;
    if (parts.length === 0) return this.log.appendSeq;
    const header = u32(parts.length);
    const payload = Buffer.concat([header, ...parts]);
    const seq = this.log.append(LOG_TRANSACTION, payload);
    for (const message of messages) {
      // The whole transaction record stays while any message in it is live; such messages keep
      // their bodies in memory (payloadOffset -1: not readable on their own).
      message.segment = this.log.lastSegment;
      message.payloadOffset = -1;
      message.payloadBytes = 0;
      this.log.retain(message.segment, 0);
    }
    return seq;
  }

  /** Reads a logged message's block back from its record (for paged-out bodies). */
  readBlock(message: LoggedMessage): Buffer {
    assert(message.payloadOffset >= 0, 'a message inside a transaction record keeps its block');
    const payload = this.log.readSync(message.segment, message.payloadOffset, message.payloadBytes);
    const refCount = payload.readUInt16LE(8);
    const refBytes = message.isTimedRecord ? TIMED_REF_BYTES : REF_BYTES;
    return payload.subarray(MESSAGE_HEADER_BYTES + refCount * refBytes);
  }

  /** Compaction: writes a live message again at the head of the log and frees its old record. */
  relocateMessage(
    message: LoggedMessage,
    block: Buffer,
    queueIds: Uint32Array,
    seqs: Float64Array,
    count: number,
    expiries: Float64Array | null,
  ): number {
    const oldSegment = message.segment;
    const oldBytes = message.payloadBytes;
    const seq = this.logMessage(message, block, queueIds, seqs, count, expiries);
    this.log.release(oldSegment, oldBytes);
    return seq;
  }

  /** Compaction: writes the definitions whose records are in `segment` again. */
  relocateDefinitions(segment: number): void {
    for (const entry of [...this.definitions.values()]) {
      if (entry.segment === segment) this.putDefinition(entry.record);
    }
  }

  /** Durably records a definition (or its deletion when value is null). */
  putDefinition(record: DefinitionRecord): number {
    const payload = pack(record);
    const key = `${record.kind}\u0000${record.key}`;
    const previous = this.definitions.get(key);
    const seq = this.log.append(LOG_DEFINITION, payload);
    this.unsyncedDefinitions.push(record);
    this.unsyncedDefinitionSeqs.push(seq);
    if (previous !== undefined) this.log.release(previous.segment, previous.bytes);
    if (record.value === null) {
      this.definitions.delete(key);
    } else {
      this.definitions.set(key, { record, segment: this.log.lastSegment, bytes: payload.length });
      this.log.retain(this.log.lastSegment, payload.length);
    }
    return seq;
  }

  // ---------------------------------------------------------------- failed appends

  /** Appends up to `durableSeq` are durable: their definitions need no second write. */
  onDurable(durableSeq: number): void {
    const seqs = this.unsyncedDefinitionSeqs;
    let durable = 0;
    while (durable < seqs.length && seqs[durable]! <= durableSeq) durable++;
    if (durable === 0) return;
    this.unsyncedDefinitions.splice(0, durable);
    seqs.splice(0, durable);
  }

  /**
   * The log lost every append after `durableSeq`. Definitions must not be lost (the record each
   * replaced was released already), so the lost ones are written again, in order; returns the
   * seq the last of them got (0 when none was lost).
   */
  rewriteLostDefinitions(durableSeq: number): number {
    this.onDurable(durableSeq);
    const lost = this.unsyncedDefinitions;
    this.unsyncedDefinitions = [];
    this.unsyncedDefinitionSeqs = [];
    let seq = 0;
    for (const record of lost) seq = this.putDefinition(record);
    return seq;
  }

  /**
   * A message whose record was lost by a failed append: it stays in memory only, as if it had
   * been transient (its publisher got a basic.nack), and its lost record is released.
   */
  unlog(message: LoggedMessage): void {
    if (message.segment === 0) return;
    if (message.liveRefs > 0) this.log.release(message.segment, message.payloadBytes);
    message.liveRefs = 0;
    message.segment = 0;
    message.payloadOffset = -1;
    message.payloadBytes = 0;
  }

  // ---------------------------------------------------------------- recovery

  /** Log replay: one record. Builds `recovered` and `definitions`. */
  onRecord(
    type: number,
    bytes: Buffer,
    start: number,
    end: number,
    segment: number,
    payloadOffset: number,
  ): void {
    switch (type) {
      case LOG_MESSAGE:
        return this.recoverMessage(bytes, start, end, segment, payloadOffset, end - start, false);
      case LOG_MESSAGE_TIMED:
        return this.recoverMessage(bytes, start, end, segment, payloadOffset, end - start, true);
      case LOG_SETTLED:
        return this.forEachRef(bytes, start, REF_BYTES, (queueId, seq) =>
          this.recoverSettled(queueId, seq),
        );
      case LOG_REQUEUED:
        return this.forEachRef(bytes, start, REQUEUE_REF_BYTES, (queueId, seq, at) => {
          const copy = this.recovered.get(queueId)?.get(seq);
          if (copy !== undefined) copy.deliveryCount = bytes.readUInt32LE(at + 12);
        });
      case LOG_DELIVERED:
        return this.forEachRef(bytes, start, REF_BYTES, (queueId, seq) => {
          const copy = this.recovered.get(queueId)?.get(seq);
          if (copy !== undefined) copy.deliveryCount++;
        });
      case LOG_QUEUE_DELETED: {
        const copies = this.recovered.get(bytes.readUInt32LE(start));
        if (copies === undefined) return;
        for (const copy of copies.values()) this.dropRef(copy.message);
        this.recovered.delete(bytes.readUInt32LE(start));
        return;
      }
      case LOG_TRANSACTION: {
        const count = bytes.readUInt32LE(start);
        let at = start + 4;
        for (let i = 0; i < count; i++) {
          const nestedType = bytes[at]!;
          const nestedBytes = bytes.readUInt32LE(at + 1);
          const nestedStart = at + NESTED_HEADER_BYTES;
          if (nestedType === LOG_MESSAGE || nestedType === LOG_MESSAGE_TIMED) {
            // Its messages keep the whole transaction record alive; payloadOffset -1 marks them.
            this.recoverMessage(
              bytes,
              nestedStart,
              nestedStart + nestedBytes,
              segment,
              -1,
              0,
              nestedType === LOG_MESSAGE_TIMED,
            );
          } else {
            this.onRecord(nestedType, bytes, nestedStart, nestedStart + nestedBytes, segment, -1);
          }
          at = nestedStart + nestedBytes;
        }
        return;
      }
      case LOG_PAGED:
        // A transient message paged out before the restart: gone with the restart.
        return;
      case LOG_DEFINITION: {
        const record = unpack(bytes.subarray(start, end)) as DefinitionRecord;
        const key = `${record.kind}\u0000${record.key}`;
        const previous = this.definitions.get(key);
        if (previous !== undefined) this.log.release(previous.segment, previous.bytes);
        if (record.value === null) {
          this.definitions.delete(key);
        } else {
          this.definitions.set(key, { record, segment, bytes: end - start });
          this.log.retain(segment, end - start);
        }
        return;
      }
      default:
        // An unknown type is from a newer version or damage the checksum missed: skip it.
        return;
    }
  }

  private recoverMessage(
    bytes: Buffer,
    start: number,
    end: number,
    segment: number,
    payloadOffset: number,
    payloadBytes: number,
    isTimed: boolean,
  ): void {
    const messageId = bytes.readDoubleLE(start);
    const count = bytes.readUInt16LE(start + 8);
    const refBytes = isTimed ? TIMED_REF_BYTES : REF_BYTES;
    const blockStart = start + MESSAGE_HEADER_BYTES + count * refBytes;
    // Past the memory budget, recovered bodies stay in the log and are read back on delivery
    // (the oldest are replayed first, so the ones delivered first stay in memory).
    const blockBytes = end - blockStart;
    const isKept =
      payloadOffset < 0 ||
      this.recoveredMemoryBytes + blockBytes + BLOCK_OVERHEAD_BYTES <= this.recoveryBudgetBytes;
    const message = new StoredMessage(
      isKept ? Buffer.from(bytes.subarray(blockStart, end)) : null,
      blockBytes,
      bodyBytesOf(bytes, blockStart, end),
    );
    message.isTimedRecord = isTimed;
    if (isKept) this.recoveredMemoryBytes += message.memoryBytes;
    message.segment = segment;
    message.payloadOffset = payloadOffset;
    message.payloadBytes = payloadBytes;
    if (messageId >= this.nextMessageId) this.nextMessageId = messageId + 1;
    this.log.retain(segment, payloadBytes);
    let at = start + MESSAGE_HEADER_BYTES;
    for (let i = 0; i < count; i++, at += refBytes) {
      const queueId = bytes.readUInt32LE(at);
      const seq = bytes.readDoubleLE(at + 4);
      let copies = this.recovered.get(queueId);
      if (copies === undefined) {
        copies = new Map();
        this.recovered.set(queueId, copies);
      }
      const earlier = copies.get(seq);
      // A copy compaction made before the crash: the newer record wins, the older one is freed.
      if (earlier !== undefined) this.dropRef(earlier.message);
      const copy = isTimed
        ? new TimedQueueEntry(message, seq, bytes.readDoubleLE(at + 12))
        : new QueueEntry(message, seq);
      copy.deliveryCount = earlier?.deliveryCount ?? 0;
      copies.set(seq, copy);
      message.liveRefs++;
    }
    if (message.liveRefs === 0) this.log.release(segment, payloadBytes);
  }

  private recoverSettled(queueId: number, seq: number): void {
    const copies = this.recovered.get(queueId);
    const copy = copies?.get(seq);
    if (copy === undefined) return;
    copies!.delete(seq);
    this.dropRef(copy.message);
  }

  private forEachRef(
    bytes: Buffer,
    start: number,
    refBytes: number,
    visit: (queueId: number, seq: number, at: number) => void,
  ): void {
    const count = bytes.readUInt32LE(start);
    let at = start + 4;
    for (let i = 0; i < count; i++, at += refBytes)
      visit(bytes.readUInt32LE(at), bytes.readDoubleLE(at + 4), at);
  }

  /** Hands a durable queue's recovered copies over, oldest first, and forgets them here. */
  claimRecovered(queueId: number): RecoveredCopy[] {
    const copies = this.recovered.get(queueId);
    if (copies === undefined) return [];
    this.recovered.delete(queueId);
    return [...copies.values()].sort((left, right) => left.seq - right.seq);
  }

  /** Drops what no queue claimed (queues deleted while the broker was down). */
  discardUnclaimed(): void {
    this.isRecovering = false;
    for (const [queueId, copies] of this.recovered) {
      for (const copy of copies.values()) this.dropRef(copy.message);
      this.queueDeleted(queueId);
    }
    this.recovered.clear();
  }
}

const NO_QUEUE_IDS = new Uint32Array(0);
const NO_SEQS = new Float64Array(0);

function u32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer.writeUInt32LE(value, 0);
  return buffer;
}

function nested(type: number, payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(NESTED_HEADER_BYTES);
  header[0] = type;
  header.writeUInt32LE(payload.length, 1);
  return Buffer.concat([header, payload]);
}
