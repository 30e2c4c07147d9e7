// Publisher confirms for one channel. Every publish in confirm mode gets the next sequence
// number and the set of shards it went to (a bitmask); a shard reports "everything from this
// channel up to seq is settled", and the channel confirms the longest prefix of sequence
// numbers whose shards have all reported. So confirms leave strictly in order, whichever shard
// settles first, and one basic.ack with multiple=true covers each advance. It also times each
// publish from its arrival to its confirm into a shared preallocated histogram. Network thread
// only.

import { assert, type LatencyHistogram } from '../util/index.js';

/** A clock read per confirm; whoever owns it refreshes it once per batch of input or events. */
export interface BatchClock {
  nowMs: number;
}

export class ConfirmTracker {
  private masks = new Int32Array(256);
  /** When each outstanding publish arrived (batch clock), in the same slots as masks. */
  private receivedAtMs = new Float64Array(256);
  private head = 0;
  /** The lowest sequence number not yet confirmed. */
  private baseSeq = 1;
  /** The next sequence number to hand out. */
  private nextSeq = 1;
  private readonly settledByShard: Float64Array;
  private readonly clock: BatchClock;
  private readonly latency: LatencyHistogram | null;

  constructor(
    shardCount: number,
    clock: BatchClock = { nowMs: 0 },
    latency: LatencyHistogram | null = null,
  ) {
    assert(shardCount <= 30, 'shard masks are 31-bit');
    this.settledByShard = new Float64Array(shardCount);
    this.clock = clock;
    this.latency = latency;
  }

  get outstanding(): number {
    return this.nextSeq - this.baseSeq;
  }

  /** Registers a publish that went to the shards in `shardMask`; returns its sequence number. */
  add(shardMask: number): number {
    const span = this.nextSeq - this.baseSeq;
    if (span === this.masks.length) this.grow();
    const slot = (this.head + span) & (this.masks.length - 1);
    this.masks[slot] = shardMask;
    this.receivedAtMs[slot] = this.clock.nowMs;
    return this.nextSeq++;
  }

  /** Sequence numbers a queue refused (x-overflow reject-publish): confirmed with a nack. */
  readonly rejected = new Set<number>();

  /** A queue refused publish `seq`; its shard's confirm still follows. */
  reject(seq: number): void {
    if (seq >= this.baseSeq) this.rejected.add(seq);
  }

  /** Records a shard's report. */
  settle(shardIndex: number, seq: number): void {
    if (seq > this.settledByShard[shardIndex]!) this.settledByShard[shardIndex] = seq;
  }

  /**
   * Moves past every sequence number now settled by all of its shards. Returns the highest
   * newly confirmed one, or 0 when nothing advanced. `advancedCount` tells how many it covers.
   */
  advance(): number {
    const capacity = this.masks.length;
    const settled = this.settledByShard;
    const latency = this.latency;
    const nowMs = this.clock.nowMs;
    let seq = this.baseSeq;
    while (seq < this.nextSeq) {
      let mask = this.masks[this.head]!;
      while (mask !== 0) {
        const shardIndex = 31 - Math.clz32(mask);
        if (settled[shardIndex]! < seq) break;
        mask &= ~(1 << shardIndex);
      }
      if (mask !== 0) break;
      if (latency !== null) latency.record(nowMs - this.receivedAtMs[this.head]!);
      this.head = (this.head + 1) & (capacity - 1);
      seq++;
    }
    const advanced = seq - this.baseSeq;
    this.advancedCount = advanced;
    this.baseSeq = seq;
    return advanced === 0 ? 0 : seq - 1;
  }

  /** How many sequence numbers the last advance() confirmed. */
  advancedCount = 0;

  private grow(): void {
    const capacity = this.masks.length;
    const masks = new Int32Array(capacity * 2);
    const receivedAtMs = new Float64Array(capacity * 2);
    const span = this.nextSeq - this.baseSeq;
    for (let i = 0; i < span; i++) {
      const slot = (this.head + i) & (capacity - 1);
      masks[i] = this.masks[slot]!;
      receivedAtMs[i] = this.receivedAtMs[slot]!;
    }
    this.masks = masks;
    this.receivedAtMs = receivedAtMs;
    this.head = 0;
  }
}
