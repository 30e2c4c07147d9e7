// A latency histogram with fixed bucket bounds, allocated once: record() only finds a bucket
// and adds, so it can run once per message on a hot path. Any thread; not shared between them.

import { assert } from './assert.js';

export class LatencyHistogram {
  /** Upper bounds of the buckets in ms, ascending; counts has one more (beyond the last). */
  readonly boundsMs: readonly number[];
  readonly counts: Float64Array;
  count = 0;
  sumMs = 0;
  maxMs = 0;
  private readonly bounds: Float64Array;

  constructor(boundsMs: readonly number[]) {
    for (let i = 1; i < boundsMs.length; i++) {
      assert(boundsMs[i]! > boundsMs[i - 1]!, 'histogram bounds must ascend');
    }
    this.boundsMs = boundsMs;
    this.bounds = Float64Array.from(boundsMs);
    this.counts = new Float64Array(boundsMs.length + 1);
  }

  record(ms: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && ms > bounds[index]!) index++;
    this.counts[index]!++;
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /**
   * The bound of the bucket holding quantile `q` (0 < q ≤ 1): an upper estimate, the largest
   * value seen when it lies beyond the last bound, 0 when empty.
   */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.boundsMs[i] ?? this.maxMs, this.maxMs);
    }
    return this.maxMs;
  }
}
