// A channel's delivery tags: it hands out 1, 2, 3, ... across every queue and shard, and keeps
// for each unacked tag which shard delivered it under which shard delivery id. Network thread
// only. Tags are contiguous, so the table is a window of typed arrays indexed by tag - baseTag:
// no object per delivery, O(1) lookups, and `multiple` acks walk the window from its start.

const UNTRACKED = -1;

/** Receives each unacked delivery a settle covers. */
export interface SettledDeliverySink {
  /** `isLimited`: the delivery counted toward the channel-wide prefetch. */
  collect(shardIndex: number, deliveryId: number, tag: number, isLimited: boolean): void;
}

export class DeliveryTagTable {
  private shardOf = new Int16Array(64).fill(UNTRACKED);
  private deliveryIdOf = new Float64Array(64);
  private isLimitedOf = new Uint8Array(64);
  /** Ring position of baseTag. */
  private head = 0;
  /** Slots in use: tags baseTag .. baseTag + span - 1. */
  private span = 0;
  private baseTag = 1;
  private nextTag = 1;
  /** Tags still awaiting ack. */
  unackedCount = 0;

  /**
   * Hands out the next tag; tracks it unless the delivery needs no ack. `isLimited` marks a
   * consumer delivery that counts toward the channel-wide prefetch.
   */
  assign(isTracked: boolean, shardIndex: number, deliveryId: number, isLimited = false): number {
    const tag = this.nextTag++;
    if (!isTracked) {
      if (this.span === 0) this.baseTag = this.nextTag;
      else this.pushSlot(UNTRACKED, 0, false);
      return tag;
    }
    if (this.span === 0) this.baseTag = tag;
    this.pushSlot(shardIndex, deliveryId, isLimited);
    this.unackedCount++;
    return tag;
  }

  /** Tracks a settled tag again (tx.rollback puts held acks back under their old tags). */
  restore(tag: number, shardIndex: number, deliveryId: number, isLimited: boolean): void {
    if (this.span === 0) {
      this.baseTag = tag;
    } else {
      while (tag < this.baseTag) {
        if (this.span === this.shardOf.length) this.grow();
        this.head = (this.head - 1) & (this.shardOf.length - 1);
        this.shardOf[this.head] = UNTRACKED;
        this.baseTag--;
        this.span++;
      }
    }
    while (tag >= this.baseTag + this.span) this.pushSlot(UNTRACKED, 0, false);
    const slot = this.slotOf(tag);
    this.shardOf[slot] = shardIndex;
    this.deliveryIdOf[slot] = deliveryId;
    this.isLimitedOf[slot] = isLimited ? 1 : 0;
    this.unackedCount++;
  }

  /** The oldest tag awaiting ack, or 0 when none does. */
  oldestUnackedTag(): number {
    return this.unackedCount === 0 ? 0 : this.baseTag;
  }

  /** Whether `tag` is a delivery awaiting ack on this channel. */
  isUnacked(tag: number): boolean {
    if (tag < this.baseTag || tag >= this.baseTag + this.span) return false;
    return this.shardOf[this.slotOf(tag)] !== UNTRACKED;
  }

  /** Settles one tag (must be unacked). */
  settleOne(tag: number, sink: SettledDeliverySink): void {
    const slot = this.slotOf(tag);
    sink.collect(this.shardOf[slot]!, this.deliveryIdOf[slot]!, tag, this.isLimitedOf[slot] === 1);
    this.shardOf[slot] = UNTRACKED;
    this.unackedCount--;
    this.trimFront();
  }

  /** Settles every unacked tag up to and including `tag` (0 means all). */
  settleUpTo(tag: number, sink: SettledDeliverySink): void {
    const last =
      tag === 0 ? this.baseTag + this.span - 1 : Math.min(tag, this.baseTag + this.span - 1);
    for (let current = this.baseTag; current <= last; current++) {
      const slot = this.slotOf(current);
      const shardIndex = this.shardOf[slot]!;
      if (shardIndex === UNTRACKED) continue;
      sink.collect(shardIndex, this.deliveryIdOf[slot]!, current, this.isLimitedOf[slot] === 1);
      this.shardOf[slot] = UNTRACKED;
      this.unackedCount--;
    }
    this.trimFront();
  }

  private slotOf(tag: number): number {
    return (this.head + (tag - this.baseTag)) & (this.shardOf.length - 1);
  }

  private pushSlot(shardIndex: number, deliveryId: number, isLimited: boolean): void {
    if (this.span === this.shardOf.length) this.grow();
    const slot = (this.head + this.span) & (this.shardOf.length - 1);
    this.shardOf[slot] = shardIndex;
    this.deliveryIdOf[slot] = deliveryId;
    this.isLimitedOf[slot] = isLimited ? 1 : 0;
    this.span++;
  }

  private trimFront(): void {
    while (this.span > 0 && this.shardOf[this.head] === UNTRACKED) {
      this.head = (this.head + 1) & (this.shardOf.length - 1);
      this.span--;
      this.baseTag++;
    }
    if (this.span === 0) this.baseTag = this.nextTag;
  }

  private grow(): void {
    const capacity = this.shardOf.length;
    const shardOf = new Int16Array(capacity * 2).fill(UNTRACKED);
    const deliveryIdOf = new Float64Array(capacity * 2);
    const isLimitedOf = new Uint8Array(capacity * 2);
    for (let i = 0; i < this.span; i++) {
      const from = (this.head + i) & (capacity - 1);
      shardOf[i] = this.shardOf[from]!;
      deliveryIdOf[i] = this.deliveryIdOf[from]!;
      isLimitedOf[i] = this.isLimitedOf[from]!;
    }
    this.shardOf = shardOf;
    this.deliveryIdOf = deliveryIdOf;
    this.isLimitedOf = isLimitedOf;
    this.head = 0;
  }
}
