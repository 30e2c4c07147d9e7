// Unit tests for publisher-confirm tracking: sequence numbers from 1, a publish confirmed only
// when every shard it went to has settled up to it, confirms strictly in order (a prefix), and
// unroutable publishes (no shards) confirmed as soon as everything before them is.

import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../util/index.js';
import { ConfirmTracker } from './confirm-tracker.js';

describe('ConfirmTracker', () => {
  it('numbers publishes from 1', () => {
    const tracker = new ConfirmTracker(2);
    expect(tracker.add(0b01)).toBe(1);
    expect(tracker.add(0b10)).toBe(2);
    expect(tracker.outstanding).toBe(2);
  });

  it('confirms nothing until the shard settles', () => {
    const tracker = new ConfirmTracker(1);
    tracker.add(0b1);
    expect(tracker.advance()).toBe(0);
    expect(tracker.advancedCount).toBe(0);
    tracker.settle(0, 1);
    expect(tracker.advance()).toBe(1);
    expect(tracker.advancedCount).toBe(1);
    expect(tracker.outstanding).toBe(0);
    expect(tracker.advance()).toBe(0);
  });

  it('confirms an unroutable publish at once when nothing is ahead of it', () => {
    const tracker = new ConfirmTracker(1);
    tracker.add(0);
    expect(tracker.advance()).toBe(1);
  });

  it('holds an unroutable publish behind an unsettled one, then confirms both as one', () => {
    const tracker = new ConfirmTracker(2);
    tracker.add(0b01);
    tracker.add(0);
    expect(tracker.advance()).toBe(0);
    tracker.settle(0, 1);
    expect(tracker.advance()).toBe(2);
    expect(tracker.advancedCount).toBe(2);
  });

  it('needs every shard of a multi-shard publish', () => {
    const tracker = new ConfirmTracker(3);
    tracker.add(0b101);
    tracker.settle(0, 1);
    expect(tracker.advance()).toBe(0);
    tracker.settle(1, 1);
    expect(tracker.advance()).toBe(0);
    tracker.settle(2, 1);
    expect(tracker.advance()).toBe(1);
  });

  it('confirms only a prefix, whichever shard settles first', () => {
    const tracker = new ConfirmTracker(2);
    tracker.add(0b01); // 1 on shard 0
    tracker.add(0b10); // 2 on shard 1
    tracker.add(0b01); // 3 on shard 0
    tracker.settle(1, 2);
    expect(tracker.advance()).toBe(0);
    tracker.settle(0, 1);
    expect(tracker.advance()).toBe(2);
    expect(tracker.advancedCount).toBe(2);
    tracker.settle(0, 3);
    expect(tracker.advance()).toBe(3);
    expect(tracker.advancedCount).toBe(1);
  });

  it('a shard report covers everything up to its sequence number', () => {
    const tracker = new ConfirmTracker(1);
    for (let n = 0; n < 10; n++) tracker.add(0b1);
    tracker.settle(0, 7);
    expect(tracker.advance()).toBe(7);
    expect(tracker.advancedCount).toBe(7);
    tracker.settle(0, 5);
    expect(tracker.advance()).toBe(0);
    tracker.settle(0, 10);
    expect(tracker.advance()).toBe(10);
  });

  it('grows past its initial window', () => {
    const tracker = new ConfirmTracker(2);
    for (let n = 1; n <= 1000; n++) tracker.add(n % 2 === 0 ? 0b10 : 0b01);
    tracker.settle(0, 999);
    expect(tracker.advance()).toBe(1);
    tracker.settle(1, 1000);
    expect(tracker.advance()).toBe(1000);
    expect(tracker.advancedCount).toBe(999);
  });

  it('uses shard 29, the highest a 30-shard broker has', () => {
    const tracker = new ConfirmTracker(30);
    tracker.add(1 << 29);
    tracker.settle(28, 1);
    expect(tracker.advance()).toBe(0);
    tracker.settle(29, 1);
    expect(tracker.advance()).toBe(1);
  });

  it('times each publish from arrival to confirm, across a grown window', () => {
    const clock = { nowMs: 0 };
    const latency = new LatencyHistogram([1, 10, 100]);
    const tracker = new ConfirmTracker(1, clock, latency);
    for (let n = 1; n <= 300; n++) {
      clock.nowMs = n === 1 ? 0 : 50;
      tracker.add(0b1);
    }
    clock.nowMs = 55;
    tracker.settle(0, 300);
    expect(tracker.advance()).toBe(300);
    // The first waited 55 ms, the other 299 waited 5 ms.
    expect([...latency.counts]).toEqual([0, 299, 1, 0]);
    expect(latency.sumMs).toBe(55 + 299 * 5);
  });
});
