// Publisher confirms a shard owes, in the order it applied the publishes, each waiting for the
// log append it depends on to become durable. Shard thread only. Invariant: the append each
// entry waits for never decreases along the FIFO (a transient publish waits for whatever the
// publish before it waited for), so draining a prefix keeps every channel's confirms in order.
// Typed arrays, no object per publish.

export interface ConfirmSink {
  /** Every publish up to `confirmSeq` from this channel is settled here. */
  confirm(connectionId: number, channelId: number, confirmSeq: number): void;
  /** Publish `confirmSeq` could not be stored: its confirm (which follows) is a basic.nack. */
  reject(connectionId: number, channelId: number, confirmSeq: number): void;
}

export class PendingConfirms {
  private needSeqs = new Float64Array(1024);
  /** What each entry itself needed (0 for a transient publish), for fail(). */
  private ownNeedSeqs = new Float64Array(1024);
  private connectionIds = new Uint32Array(1024);
  private channelIds = new Uint16Array(1024);
  private confirmSeqs = new Float64Array(1024);
  private head = 0;
  private count = 0;
  /** What the newest entry waits for; later entries wait at least as long. */
  private lastNeedSeq = 0;

  get length(): number {
    return this.count;
  }

  /** Queues a confirm that may go once log append `needSeq` is durable (0: nothing to wait for). */
  push(needSeq: number, connectionId: number, channelId: number, confirmSeq: number): void {
    if (needSeq > this.lastNeedSeq) this.lastNeedSeq = needSeq;
    if (this.count === this.needSeqs.length) this.grow();
    const slot = (this.head + this.count) & (this.needSeqs.length - 1);
    this.needSeqs[slot] = this.lastNeedSeq;
    this.ownNeedSeqs[slot] = needSeq;
    this.connectionIds[slot] = connectionId;
    this.channelIds[slot] = channelId;
    this.confirmSeqs[slot] = confirmSeq;
    this.count++;
  }

  /**
   * Confirms every entry whose append is durable, once per run of entries from the same channel
   * (the run's last sequence number covers the rest).
   */
  drain(durableSeq: number, sink: ConfirmSink): void {
    const mask = this.needSeqs.length - 1;
    while (this.count > 0) {
      const slot = this.head;
      if (this.needSeqs[slot]! > durableSeq) return;
      const connectionId = this.connectionIds[slot]!;
      const channelId = this.channelIds[slot]!;
      let confirmSeq = this.confirmSeqs[slot]!;
      this.head = (this.head + 1) & mask;
      this.count--;
      while (this.count > 0) {
        const next = this.head;
        if (
          this.needSeqs[next]! > durableSeq ||
          this.connectionIds[next] !== connectionId ||
          this.channelIds[next] !== channelId
        ) {
          break;
        }
        confirmSeq = this.confirmSeqs[next]!;
        this.head = (this.head + 1) & mask;
        this.count--;
      }
      sink.confirm(connectionId, channelId, confirmSeq);
    }
  }

  /**
   * The log lost every append after `durableSeq`: settles every entry now, in order, rejecting
   * those whose own append was lost (a transient publish behind them is confirmed as usual).
   */
  fail(durableSeq: number, sink: ConfirmSink): void {
    const mask = this.needSeqs.length - 1;
    while (this.count > 0) {
      const connectionId = this.connectionIds[this.head]!;
      const channelId = this.channelIds[this.head]!;
      let confirmSeq = 0;
      do {
        const slot = this.head;
        confirmSeq = this.confirmSeqs[slot]!;
        if (this.ownNeedSeqs[slot]! > durableSeq) sink.reject(connectionId, channelId, confirmSeq);
        this.head = (this.head + 1) & mask;
        this.count--;
      } while (
        this.count > 0 &&
        this.connectionIds[this.head] === connectionId &&
        this.channelIds[this.head] === channelId
      );
      sink.confirm(connectionId, channelId, confirmSeq);
    }
    this.lastNeedSeq = durableSeq;
  }

  private grow(): void {
    const capacity = this.needSeqs.length;
    const copy = <T extends Float64Array | Uint32Array | Uint16Array>(from: T, to: T): T => {
      for (let i = 0; i < this.count; i++) to[i] = from[(this.head + i) & (capacity - 1)]!;
      return to;
    };
    this.needSeqs = copy(this.needSeqs, new Float64Array(capacity * 2));
    this.ownNeedSeqs = copy(this.ownNeedSeqs, new Float64Array(capacity * 2));
    this.connectionIds = copy(this.connectionIds, new Uint32Array(capacity * 2));
    this.channelIds = copy(this.channelIds, new Uint16Array(capacity * 2));
    this.confirmSeqs = copy(this.confirmSeqs, new Float64Array(capacity * 2));
    this.head = 0;
  }
}
