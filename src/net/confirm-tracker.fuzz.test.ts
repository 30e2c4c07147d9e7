// Property test for publisher-confirm tracking against a simple model: publishes with random
// shard sets, shard reports (in any order, including stale ones) and advances. Every advance must
// confirm exactly the longest new prefix of sequence numbers whose shards have all settled them,
// never a publish with an unsettled shard, each number once, in order. fast-check prints the seed
// and the shrunk sequence on failure.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfirmTracker } from './confirm-tracker.js';

const SHARDS = 4;

type Operation =
  | { kind: 'add'; mask: number; count: number }
  | { kind: 'settle'; shardIndex: number; pick: number }
  | { kind: 'advance' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      mask: fc.integer({ min: 0, max: (1 << SHARDS) - 1 }),
      count: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      shardIndex: fc.integer({ min: 0, max: SHARDS - 1 }),
      pick: fc.nat(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'advance' as const }) },
);

describe('ConfirmTracker against a model', () => {
  it('advances exactly over the fully settled prefix', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 150 }), (operations) => {
        const tracker = new ConfirmTracker(SHARDS);
        const masks: number[] = [0]; // masks[seq]; index 0 unused
        const settled = new Array<number>(SHARDS).fill(0);
        let confirmedUpTo = 0;
        const isSettled = (seq: number) => {
          for (let shardIndex = 0; shardIndex < SHARDS; shardIndex++) {
            if ((masks[seq]! & (1 << shardIndex)) !== 0 && settled[shardIndex]! < seq) return false;
          }
          return true;
        };
        for (const step of operations) {
          if (step.kind === 'add') {
            for (let n = 0; n < step.count; n++) {
              expect(tracker.add(step.mask)).toBe(masks.length);
              masks.push(step.mask);
            }
          } else if (step.kind === 'settle') {
            // Reports may be stale (lower than before) but never beyond what was published.
            const seq = step.pick % masks.length;
            tracker.settle(step.shardIndex, seq);
            settled[step.shardIndex] = Math.max(settled[step.shardIndex]!, seq);
          } else {
            let expectedUpTo = confirmedUpTo;
            while (expectedUpTo + 1 < masks.length && isSettled(expectedUpTo + 1)) expectedUpTo++;
            const highest = tracker.advance();
            if (expectedUpTo === confirmedUpTo) {
              expect(highest).toBe(0);
              expect(tracker.advancedCount).toBe(0);
            } else {
              expect(highest).toBe(expectedUpTo);
              expect(tracker.advancedCount).toBe(expectedUpTo - confirmedUpTo);
              // Everything confirmed really was settled by each of its shards.
              for (let seq = confirmedUpTo + 1; seq <= highest; seq++)
                expect(isSettled(seq)).toBe(true);
            }
            confirmedUpTo = expectedUpTo;
          }
          expect(tracker.outstanding).toBe(masks.length - 1 - confirmedUpTo);
        }
      }),
      { numRuns: 500 },
    );
  });
});
