// Property test for the delivery-tag table against a plain Map model: random sequences of
// assign (tracked or no-ack), settleOne on an unacked tag, and settleUpTo (0 meaning all) must
// hand out the same tags, report the same unacked set, and settle the same deliveries in tag
// order. fast-check prints the seed and the shrunk sequence on failure.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeliveryTagTable } from './delivery-tags.js';

type Operation =
  | { kind: 'assign'; isTracked: boolean; shardIndex: number }
  | { kind: 'settleOne'; pick: number }
  | { kind: 'settleUpTo'; pick: number; isAll: boolean }
  | { kind: 'burst'; count: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('assign' as const),
      isTracked: fc.boolean(),
      shardIndex: fc.integer({ min: 0, max: 29 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settleOne' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('settleUpTo' as const),
      pick: fc.nat(),
      isAll: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      count: fc.integer({ min: 1, max: 300 }),
    }),
  },
);

describe('DeliveryTagTable against a Map model', () => {
  it('agrees on tags, unacked sets and settled deliveries', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const table = new DeliveryTagTable();
        const model = new Map<number, [number, number]>();
        let nextTag = 1;
        let nextDeliveryId = 1;
        const assign = (isTracked: boolean, shardIndex: number) => {
          const deliveryId = nextDeliveryId++;
          const tag = table.assign(isTracked, shardIndex, deliveryId);
          expect(tag).toBe(nextTag++);
          if (isTracked) model.set(tag, [shardIndex, deliveryId]);
        };
        for (const step of operations) {
          const settled: [number, number][] = [];
          const sink = {
            collect: (shardIndex: number, deliveryId: number) =>
              settled.push([shardIndex, deliveryId]),
          };
          switch (step.kind) {
            case 'assign':
              assign(step.isTracked, step.shardIndex);
              break;
            case 'burst':
              for (let n = 0; n < step.count; n++) assign(n % 3 !== 0, n % 4);
              break;
            case 'settleOne': {
              if (model.size === 0) break;
              const tags = [...model.keys()];
              const tag = tags[step.pick % tags.length]!;
              expect(table.isUnacked(tag)).toBe(true);
              table.settleOne(tag, sink);
              expect(settled).toEqual([model.get(tag)]);
              model.delete(tag);
              break;
            }
            case 'settleUpTo': {
              const tag = step.isAll ? 0 : step.pick % (nextTag + 2);
              table.settleUpTo(tag, sink);
              const expected = [...model.entries()]
                .filter(([candidate]) => tag === 0 || candidate <= tag)
                .sort(([left], [right]) => left - right);
              expect(settled).toEqual(expected.map(([, entry]) => entry));
              for (const [candidate] of expected) model.delete(candidate);
              break;
            }
          }
          expect(table.unackedCount).toBe(model.size);
        }
        for (let tag = 0; tag <= nextTag + 1; tag++) {
          expect(table.isUnacked(tag), `tag ${tag}`).toBe(model.has(tag));
        }
      }),
      { numRuns: 300 },
    );
  });
});
