// Unit and model tests for MinHeap: pop returns the smallest key first, ties and negative keys
// included, across random interleavings of push and pop; drain empties it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from './min-heap.js';

interface Timer {
  dueMs: number;
  name: string;
}

describe('MinHeap', () => {
  it('starts empty', () => {
    const heap = new MinHeap<Timer>((timer) => timer.dueMs);
    expect(heap.length).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(heap.pop()).toBeUndefined();
  });

  it('pops in key order whatever the push order', () => {
    const heap = new MinHeap<Timer>((timer) => timer.dueMs);
    for (const dueMs of [50, 10, 40, 30, 20, 60, 0, -5]) heap.push({ dueMs, name: `t${dueMs}` });
    expect(heap.peek()?.dueMs).toBe(-5);
    const order: number[] = [];
    while (heap.length > 0) order.push(heap.pop()!.dueMs);
    expect(order).toEqual([-5, 0, 10, 20, 30, 40, 50, 60]);
  });

  it('returns every item once when keys tie', () => {
    const heap = new MinHeap<Timer>((timer) => timer.dueMs);
    for (let n = 0; n < 20; n++) heap.push({ dueMs: n % 3, name: `t${n}` });
    const popped: Timer[] = [];
    while (heap.length > 0) popped.push(heap.pop()!);
    expect(popped.map((timer) => timer.dueMs)).toEqual(
      [...popped.map((timer) => timer.dueMs)].sort((a, b) => a - b),
    );
    expect(new Set(popped.map((timer) => timer.name)).size).toBe(20);
  });

  it('drain() hands back everything and leaves it empty', () => {
    const heap = new MinHeap<number>((value) => value);
    for (const value of [3, 1, 2]) heap.push(value);
    expect(heap.drain().sort()).toEqual([1, 2, 3]);
    expect(heap.length).toBe(0);
    heap.push(9);
    expect(heap.pop()).toBe(9);
  });

  it('matches a sorted-array model under random pushes and pops', () => {
    type Step = { kind: 'push'; key: number } | { kind: 'pop' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('push' as const),
          key: fc.integer({ min: -50, max: 50 }),
        }),
      },
      { weight: 2, arbitrary: fc.constant({ kind: 'pop' as const }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const heap = new MinHeap<{ key: number }>((item) => item.key);
        const model: number[] = [];
        for (const next of steps) {
          if (next.kind === 'push') {
            heap.push({ key: next.key });
            model.push(next.key);
            model.sort((left, right) => left - right);
          } else {
            expect(heap.pop()?.key).toBe(model.shift());
          }
          expect(heap.length).toBe(model.length);
          expect(heap.peek()?.key).toBe(model[0]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
