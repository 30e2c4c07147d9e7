// The rate limiter of one producer (--rate): a token bucket refilled from the elapsed time each
// time the client thread's publish pump looks at it. Client thread; one per rate-limited producer.
// Invariant: 0 <= tokens <= burstTokens, and over any long interval at most rate x time + burst
// tokens are taken.

import { assert } from '../util/index.js';

/** How much of a second a bucket may save up: enough to ride over a late timer, no more. */
export const BURST_SECONDS = 0.05;

export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly burstTokens: number;
  private tokens: number;
  private lastRefillMs: number;

  /**
   * @param ratePerSecond tokens added per second, > 0
   * @param nowMs the current time on the clock later passed to {@link refill}
   */
  constructor(ratePerSecond: number, nowMs: number) {
    assert(ratePerSecond > 0 && Number.isFinite(ratePerSecond), `bad rate ${ratePerSecond}`);
    this.ratePerMs = ratePerSecond / 1000;
    this.burstTokens = Math.max(1, ratePerSecond * BURST_SECONDS);
    // Start with one token, not a full bucket, so a run does not open with a burst.
    this.tokens = 1;
    this.lastRefillMs = nowMs;
  }

  /** Starts afresh at `nowMs` with one token, as when constructed. */
  reset(nowMs: number): void {
    this.tokens = 1;
    this.lastRefillMs = nowMs;
  }

  /** Adds the tokens earned since the last refill, up to the burst size. */
  refill(nowMs: number): void {
    const elapsedMs = nowMs - this.lastRefillMs;
    if (elapsedMs <= 0) return;
    this.tokens = Math.min(this.burstTokens, this.tokens + elapsedMs * this.ratePerMs);
    this.lastRefillMs = nowMs;
  }

  /** Whole tokens that may be taken now. */
  get availableTokens(): number {
    return Math.floor(this.tokens);
  }

  /** Spends `count` whole tokens; at most {@link availableTokens}. */
  take(count: number): void {
    // Checked without building the message first: this runs once per pump turn.
    if (!(count >= 0 && count <= this.tokens + 1e-9)) {
      assert(false, `took ${count} of ${this.tokens} tokens`);
    }
    this.tokens -= count;
  }

  /** Milliseconds until one whole token is available (0 when one is). */
  get msUntilNextToken(): number {
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.ratePerMs;
  }
}
