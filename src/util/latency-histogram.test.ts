// Unit tests for the fixed-bucket latency histogram: bucket choice at and between bounds, the
// overflow bucket, totals, and quantile estimates.

import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';

describe('LatencyHistogram', () => {
  it('counts each value in the first bucket whose bound holds it', () => {
    expect.hasAssertions();
    const histogram = new LatencyHistogram([1, 10, 100]);
    for (const ms of [0, 1, 1.5, 10, 99, 100, 101, 5000]) histogram.record(ms);
    expect([...histogram.counts]).toEqual([2, 2, 2, 2]);
    expect(histogram.count).toBe(8);
    expect(histogram.sumMs).toBeCloseTo(5312.5);
    expect(histogram.maxMs).toBe(5000);
  });

  it('estimates quantiles by bucket bound, capped by the largest value seen', () => {
    expect.hasAssertions();
    const histogram = new LatencyHistogram([1, 10, 100]);
    expect(histogram.quantileMs(0.5)).toBe(0);
    for (let i = 0; i < 90; i++) histogram.record(0.5);
    for (let i = 0; i < 9; i++) histogram.record(7);
    histogram.record(250);
    expect(histogram.quantileMs(0.5)).toBe(1);
    expect(histogram.quantileMs(0.95)).toBe(10);
    expect(histogram.quantileMs(1)).toBe(250);
  });

  it('refuses bounds that do not ascend', () => {
    expect.hasAssertions();
    expect(() => new LatencyHistogram([5, 1])).toThrow();
  });
});
