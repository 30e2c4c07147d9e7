// A single-producer single-consumer ring of variable-length records over a SharedArrayBuffer.
// One thread writes, one other thread reads; the two sides never take a lock. Invariants:
// positions only grow (as wrapping uint32 counters), a record never wraps around the end of the
// data region (a pad record fills the gap instead), and a record becomes visible to the reader
// only when the writer publishes its new write position with an atomic store.
//
// Wake-ups are explicit and once per batch: the reader sleeps with Atomics.waitAsync on the write
// position and the writer calls wakeReader() after a batch. A wake costs tens of microseconds,
// so per-record notifies would cost more than the records themselves. A "sleeping" flag is set
// and cleared only by the side that sleeps; the other side only reads it and notifies. (If the
// waker cleared it, a wake meant for records already consumed could clear it between the
// sleeper's last look and its wait, and every later wake would then be skipped.)

import { assert } from './assert.js';

const WRITE_POSITION = 0;
const READER_SLEEPING = 1;
// The read side lives on its own 64-byte line so the two threads do not share a cache line.
const READ_POSITION = 16;
const WRITER_WAITING = 17;
const CONTROL_INTS = 32;
const CONTROL_BYTES = CONTROL_INTS * 4;
const RECORD_HEADER_BYTES = 4;
const PAD_TYPE = 0;
/** Set on every fragment of a record that has more fragments after it. */
const MORE_FRAGMENTS = 0x80;
const LENGTH_MASK = 0x00ff_ffff;

/** The most a single record type may be: types 1..127, the high bit marks fragments. */
export const RING_TYPE_MAX = 0x7f;

/** What the reader hands each record to. The bytes are valid only during the call. */
export interface RingSink {
  onRecord(type: number, bytes: Buffer, start: number, end: number): void;
}

/** Creates the shared memory for a ring with `capacityBytes` of data (a power of two). */
export function allocateRing(capacityBytes: number): SharedArrayBuffer {
  assert(
    capacityBytes >= 4096 && (capacityBytes & (capacityBytes - 1)) === 0,
    `ring capacity must be a power of two >= 4096, got ${capacityBytes}`,
  );
  assert(capacityBytes <= 1 << 30, 'ring capacity above 1 GiB');
  return new SharedArrayBuffer(CONTROL_BYTES + capacityBytes);
}

function alignedRecordBytes(payloadBytes: number): number {
  return (RECORD_HEADER_BYTES + payloadBytes + 3) & ~3;
}

class RingView {
  protected readonly control: Int32Array;

  /** The control words (positions and sleep flags), for the wait helpers. */
  get controlWords(): Int32Array {
    return this.control;
  }
  /** The data region; writers fill payloads here at the offsets `reserve()` returns. */
  readonly bytes: Buffer;
  readonly capacityBytes: number;
  protected readonly mask: number;
  /** The largest payload one record can carry; bigger ones go as fragments. */
  readonly recordPayloadMaxBytes: number;

  constructor(shared: SharedArrayBuffer) {
    this.control = new Int32Array(shared, 0, CONTROL_INTS);
    this.capacityBytes = shared.byteLength - CONTROL_BYTES;
    this.bytes = Buffer.from(shared, CONTROL_BYTES, this.capacityBytes);
    this.mask = this.capacityBytes - 1;
    this.recordPayloadMaxBytes =
      Math.min(this.capacityBytes / 4, LENGTH_MASK) - RECORD_HEADER_BYTES;
  }

  /** Bytes currently written and not yet consumed (approximate from a third thread). */
  usedBytes(): number {
    return (
      (Atomics.load(this.control, WRITE_POSITION) - Atomics.load(this.control, READ_POSITION)) >>> 0
    );
  }
}

/**
 * Keeps a pending wait's promise referenced by its ring until it settles (nothing else holds
 * it), then clears the sleeper's flag: the sleeper is awake.
 */
function holdUntilSettled(
  holder: RingView & { pendingWait: Promise<unknown> | null },
  promise: Promise<unknown>,
  flagIndex: number,
): Promise<void> {
  holder.pendingWait = promise;
  return promise.then(() => {
    holder.pendingWait = null;
    Atomics.store(holder.controlWords, flagIndex, 0);
  });
}

/** The producing side. Owned by exactly one thread. */
export class RingWriter extends RingView {
  private writePosition: number;
  private readPositionSeen: number;
  private reservedOffset = -1;
  private reservedPayloadBytes = 0;
  private recordsSinceWake = 0;

  constructor(shared: SharedArrayBuffer) {
    super(shared);
    this.writePosition = Atomics.load(this.control, WRITE_POSITION) >>> 0;
    this.readPositionSeen = Atomics.load(this.control, READ_POSITION) >>> 0;
  }

  private freeBytes(): number {
    return this.capacityBytes - ((this.writePosition - this.readPositionSeen) >>> 0);
  }

  /**
   * Reserves room for one record of up to `payloadBytes` and returns the offset in `bytes` where
   * its payload goes, or -1 when the ring has no room now (the caller keeps the record and retries
   * after waitForSpace()). Follow with commit() before the next reserve().
   */
  reserve(payloadBytes: number): number {
    assert(this.reservedOffset < 0, 'reserve() twice without commit()');
    assert(payloadBytes <= this.recordPayloadMaxBytes, `record of ${payloadBytes} bytes too big`);
    const recordBytes = alignedRecordBytes(payloadBytes);
    const offset = this.writePosition & this.mask;
    const untilEnd = this.capacityBytes - offset;
    const paddingBytes = recordBytes > untilEnd ? untilEnd : 0;
    if (paddingBytes + recordBytes > this.freeBytes()) {
      this.readPositionSeen = Atomics.load(this.control, READ_POSITION) >>> 0;
      if (paddingBytes + recordBytes > this.freeBytes()) return -1;
    }
    if (paddingBytes > 0) {
      // The pad record tells the reader to skip to the start of the region. It is published with
      // the record that follows it, so the reader never sees a pad alone.
      this.bytes.writeUInt32LE((PAD_TYPE << 24) | (paddingBytes - RECORD_HEADER_BYTES), offset);
      this.writePosition = (this.writePosition + paddingBytes) >>> 0;
    }
    const headerOffset = this.writePosition & this.mask;
    this.reservedOffset = headerOffset;
    this.reservedPayloadBytes = payloadBytes;
    return headerOffset + RECORD_HEADER_BYTES;
  }

  /** Publishes the reserved record with its type and its actual payload size (<= reserved). */
  commit(type: number, payloadBytes: number = this.reservedPayloadBytes): void {
    assert(this.reservedOffset >= 0, 'commit() without reserve()');
    assert(type > 0 && type <= 0xff, `bad record type ${type}`);
    assert(payloadBytes <= this.reservedPayloadBytes, 'record grew after reserve()');
    this.bytes.writeUInt32LE(((type << 24) | payloadBytes) >>> 0, this.reservedOffset);
    this.writePosition = (this.writePosition + alignedRecordBytes(payloadBytes)) >>> 0;
    this.reservedOffset = -1;
    Atomics.store(this.control, WRITE_POSITION, this.writePosition | 0);
    this.recordsSinceWake++;
  }

  /**
   * Writes `source[start..end)` as one logical record of `type`, split into fragments when it is
   * larger than one record may be. Returns the new `start`: equal to `end` when all of it went in,
   * less when the ring filled up (call again with the returned start once there is space), and
   * -1 when an empty record found no room.
   */
  writeFragments(type: number, source: Buffer, start: number, end: number): number {
    assert(type > 0 && type <= RING_TYPE_MAX, `bad record type ${type}`);
    let position = start;
    do {
      const remaining = end - position;
      const chunkBytes = Math.min(remaining, this.recordPayloadMaxBytes);
      const offset = this.reserve(chunkBytes);
      if (offset < 0) return start === end ? -1 : position;
      source.copy(this.bytes, offset, position, position + chunkBytes);
      position += chunkBytes;
      this.commit(position < end ? type | MORE_FRAGMENTS : type, chunkBytes);
    } while (position < end);
    return position;
  }

  /** Wakes the reader if it sleeps. Call once per batch of commits. */
  wakeReader(): void {
    if (this.recordsSinceWake === 0) return;
    this.recordsSinceWake = 0;
    if (Atomics.load(this.control, READER_SLEEPING) === 1) {
      Atomics.notify(this.control, WRITE_POSITION);
    }
  }

  /**
   * Resolves when the reader has freed some space (or at once if it already has). Used after
   * reserve() returned -1. Control path only: it allocates a promise.
   */
  waitForSpace(): Promise<void> {
    Atomics.store(this.control, WRITER_WAITING, 1);
    const readPosition = Atomics.load(this.control, READ_POSITION);
    if (readPosition >>> 0 !== this.readPositionSeen) {
      Atomics.store(this.control, WRITER_WAITING, 0);
      this.readPositionSeen = readPosition >>> 0;
      return Promise.resolve();
    }
    const waiting = Atomics.waitAsync(this.control, READ_POSITION, readPosition);
    if (!waiting.async) {
      Atomics.store(this.control, WRITER_WAITING, 0);
      return Promise.resolve();
    }
    return holdUntilSettled(this, waiting.value, WRITER_WAITING);
  }

  /** The pending wait, held strongly: see holdUntilSettled. */
  pendingWait: Promise<unknown> | null = null;
}

/** The consuming side. Owned by exactly one thread. */
export class RingReader extends RingView {
  private readPosition: number;
  private fragments: Buffer[] = [];

  constructor(shared: SharedArrayBuffer) {
    super(shared);
    this.readPosition = Atomics.load(this.control, READ_POSITION) >>> 0;
  }

  /** True when at least one record is waiting. */
  hasRecords(): boolean {
    return Atomics.load(this.control, WRITE_POSITION) >>> 0 !== this.readPosition;
  }

  /**
   * Hands up to `recordsMax` waiting records to `sink`, in order, then releases their space to
   * the writer. Returns how many records were handed over.
   */
  poll(sink: RingSink, recordsMax: number): number {
    const writePosition = Atomics.load(this.control, WRITE_POSITION) >>> 0;
    let position = this.readPosition;
    let delivered = 0;
    while (position !== writePosition && delivered < recordsMax) {
      const offset = position & this.mask;
      const header = this.bytes.readUInt32LE(offset);
      const type = header >>> 24;
      const payloadBytes = header & LENGTH_MASK;
      position = (position + alignedRecordBytes(payloadBytes)) >>> 0;
      if (type === PAD_TYPE) continue;
      const start = offset + RECORD_HEADER_BYTES;
      if ((type & MORE_FRAGMENTS) !== 0) {
        this.fragments.push(Buffer.from(this.bytes.subarray(start, start + payloadBytes)));
        continue;
      }
      delivered++;
      if (this.fragments.length === 0) {
        sink.onRecord(type, this.bytes, start, start + payloadBytes);
      } else {
        this.fragments.push(this.bytes.subarray(start, start + payloadBytes));
        const whole = Buffer.concat(this.fragments);
        this.fragments = [];
        sink.onRecord(type, whole, 0, whole.length);
      }
    }
    this.readPosition = position;
    Atomics.store(this.control, READ_POSITION, position | 0);
    if (Atomics.load(this.control, WRITER_WAITING) === 1) {
      Atomics.notify(this.control, READ_POSITION);
    }
    return delivered;
  }

  /**
   * Resolves when records are waiting (at once if some already are). Control path only: it
   * allocates a promise. A pending waitAsync does not keep a thread's event loop alive.
   */
  waitForRecords(): Promise<void> {
    Atomics.store(this.control, READER_SLEEPING, 1);
    const writePosition = Atomics.load(this.control, WRITE_POSITION);
    if (writePosition >>> 0 !== this.readPosition) {
      Atomics.store(this.control, READER_SLEEPING, 0);
      return Promise.resolve();
    }
    const waiting = Atomics.waitAsync(this.control, WRITE_POSITION, writePosition);
    if (!waiting.async) {
      Atomics.store(this.control, READER_SLEEPING, 0);
      return Promise.resolve();
    }
    return holdUntilSettled(this, waiting.value, READER_SLEEPING);
  }

  /** The pending wait, held strongly: see holdUntilSettled. */
  pendingWait: Promise<unknown> | null = null;
}
