// The writing end of a ring as its owner thread uses it: records go straight into shared memory
// while there is room, and into a local backlog (in order) when the ring is full or a record is
// too big for one ring record. The owner checks `isBlocked` to stop taking new work (stop reading
// sockets on the network thread, stop polling its input ring on a shard) so the backlog stays
// bounded by the work already in hand.

import { assert } from './assert.js';
import type { RingWriter } from './spsc-ring.js';

interface PendingRecord {
  type: number;
  bytes: Buffer;
  start: number;
}

export class RingOutbox {
  /** Where the current record's bytes go: the ring's memory or a scratch buffer. */
  target: Buffer;
  private readonly writer: RingWriter;
  private readonly backlog: PendingRecord[] = [];
  private isInRing = false;
  private isDraining = false;
  private readonly onUnblocked: () => void;

  /** `onUnblocked` runs (on this thread) when a backlog has drained into the ring. */
  constructor(writer: RingWriter, onUnblocked: () => void) {
    this.writer = writer;
    this.target = writer.bytes;
    this.onUnblocked = onUnblocked;
  }

  /** True while records wait outside the ring; the owner should stop producing work. */
  get isBlocked(): boolean {
    return this.backlog.length > 0;
  }

  get backlogRecords(): number {
    return this.backlog.length;
  }

  get ringUsedBytes(): number {
    return this.writer.usedBytes();
  }

  /**
   * Starts a record of at most `maxBytes`. Write it into `target` from the returned offset, then
   * call end(). Never fails: when the ring cannot take the record now it is staged aside.
   */
  begin(maxBytes: number): number {
    if (this.backlog.length === 0 && maxBytes <= this.writer.recordPayloadMaxBytes) {
      const offset = this.writer.reserve(maxBytes);
      if (offset >= 0) {
        this.isInRing = true;
        this.target = this.writer.bytes;
        return offset;
      }
    }
    this.isInRing = false;
    this.target = Buffer.allocUnsafe(maxBytes);
    return 0;
  }

  /** Finishes the record begun with begin(); `endOffset` is one past its last byte in `target`. */
  end(type: number, startOffset: number, endOffset: number): void {
    if (this.isInRing) {
      this.writer.commit(type, endOffset - startOffset);
      return;
    }
    assert(startOffset === 0, 'staged records start at 0');
    this.backlog.push({ type, bytes: this.target.subarray(0, endOffset), start: 0 });
    this.target = this.writer.bytes;
    this.drainBacklog();
  }

  /** Wakes the reading thread; call once per batch. */
  flush(): void {
    this.writer.wakeReader();
  }

  private drainBacklog(): void {
    if (this.isDraining) return;
    while (this.backlog.length > 0) {
      const head = this.backlog[0]!;
      const next = this.writer.writeFragments(head.type, head.bytes, head.start, head.bytes.length);
      if (next >= 0) head.start = next;
      if (next < 0 || head.start < head.bytes.length) {
        this.writer.wakeReader();
        this.isDraining = true;
        void this.writer.waitForSpace().then(() => {
          this.isDraining = false;
          this.drainBacklog();
        });
        return;
      }
      this.backlog.shift();
    }
    this.writer.wakeReader();
    this.onUnblocked();
  }
}
