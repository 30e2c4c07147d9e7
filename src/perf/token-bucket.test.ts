// Unit tests for the per-producer token bucket: it starts with one token, refills at the rate,
// caps savings at the burst, tells how long until the next token, and over a long simulated run
// (a pump taking what it may at irregular turns) hands out the rate, not more.

import { describe, expect, it } from 'vitest';
import { BURST_SECONDS, TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts with one token, not a burst', () => {
    const bucket = new TokenBucket(1000, 0);
    expect(bucket.availableTokens).toBe(1);
    bucket.take(1);
    expect(bucket.availableTokens).toBe(0);
  });

  it('refills at the rate', () => {
    const bucket = new TokenBucket(1000, 0);
    bucket.take(1);
    bucket.refill(10);
    expect(bucket.availableTokens).toBe(10);
    bucket.refill(10);
    expect(bucket.availableTokens).toBe(10);
    bucket.refill(5);
    expect(bucket.availableTokens).toBe(10);
  });

  it('saves up at most the burst', () => {
    const bucket = new TokenBucket(1000, 0);
    bucket.refill(10_000);
    expect(bucket.availableTokens).toBe(1000 * BURST_SECONDS);
    const slow = new TokenBucket(2, 0);
    slow.refill(10_000);
    expect(slow.availableTokens).toBe(1);
  });

  it('says how long until the next token', () => {
    const bucket = new TokenBucket(10, 0);
    expect(bucket.msUntilNextToken).toBe(0);
    bucket.take(1);
    expect(bucket.msUntilNextToken).toBeCloseTo(100, 6);
    bucket.refill(40);
    expect(bucket.msUntilNextToken).toBeCloseTo(60, 6);
  });

  it('starts afresh on reset, forgetting time that passed before', () => {
    const bucket = new TokenBucket(1000, 0);
    bucket.reset(5000);
    bucket.refill(5002);
    expect(bucket.availableTokens).toBe(3);
  });

  it('refuses to give more than it holds', () => {
    const bucket = new TokenBucket(10, 0);
    expect(() => bucket.take(2)).toThrow(/took 2/);
  });

  it('holds the rate over a long run with irregular turns', () => {
    for (const ratePerSecond of [1, 37, 1000, 250_000]) {
      const bucket = new TokenBucket(ratePerSecond, 0);
      let nowMs = 0;
      let taken = 0;
      let seed = 12345;
      while (nowMs < 10_000) {
        // A turn every 0.1 to 5 ms, as a busy event loop would give.
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        nowMs += 0.1 + (seed / 2 ** 31) * 4.9;
        bucket.refill(nowMs);
        const tokens = bucket.availableTokens;
        bucket.take(tokens);
        taken += tokens;
      }
      const expected = (ratePerSecond * nowMs) / 1000;
      expect(taken).toBeLessThanOrEqual(expected + 1);
      expect(taken).toBeGreaterThanOrEqual(expected * 0.99 - 1);
    }
  });
});
