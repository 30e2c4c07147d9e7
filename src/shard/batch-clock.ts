// The shard's time: a coarse reading taken once per batch of commands and per timer run, so a
// batch sees one "now" (a message with TTL 0 is deliverable within the batch it arrived in).
// Shard thread only. The clock itself is injected: Date.now in production, a fake in simulations.

/** Where a shard reads the time: Date.now in production, a fake clock in simulations. */
export type Clock = () => number;

export class BatchClock {
  /** The coarse time: read once per batch and per timer run. */
  nowMs: number;
  /** A fresh reading, for the rare places that stamp a time (x-death). */
  readonly read: Clock;

  constructor(clock: Clock) {
    this.read = clock;
    this.nowMs = clock();
  }

  /** Takes a new coarse reading. */
  tick(): void {
    this.nowMs = this.read();
  }
}
