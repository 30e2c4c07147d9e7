// Unit and model tests for Fifo: first in, first out across growth and wrap-around, unshift to
// put an item back at the front, at() by position, and clear().

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fifo } from './fifo.js';

describe('Fifo', () => {
  it('starts empty', () => {
    const fifo = new Fifo<number>();
    expect(fifo.length).toBe(0);
    expect(fifo.peek()).toBeUndefined();
    expect(fifo.shift()).toBeUndefined();
    expect(fifo.at(0)).toBeUndefined();
  });

  it('returns items in the order they were pushed, across growth', () => {
    const fifo = new Fifo<number>();
    for (let n = 0; n < 1000; n++) fifo.push(n);
    expect(fifo.length).toBe(1000);
    for (let n = 0; n < 1000; n++) {
      expect(fifo.peek()).toBe(n);
      expect(fifo.shift()).toBe(n);
    }
    expect(fifo.length).toBe(0);
  });

  it('grows correctly when the items wrap around the end of its storage', () => {
    const fifo = new Fifo<number>(16);
    for (let n = 0; n < 10; n++) fifo.push(n);
    for (let n = 0; n < 8; n++) fifo.shift();
    for (let n = 10; n < 40; n++) fifo.push(n);
    const out: number[] = [];
    while (fifo.length > 0) out.push(fifo.shift()!);
    expect(out).toEqual(Array.from({ length: 32 }, (_, n) => n + 8));
  });

  it('unshift puts an item back at the front, also when full and at position 0', () => {
    const fifo = new Fifo<string>();
    fifo.unshift('b');
    fifo.unshift('a');
    fifo.push('c');
    expect([fifo.at(0), fifo.at(1), fifo.at(2), fifo.at(3)]).toEqual(['a', 'b', 'c', undefined]);
    for (let n = 0; n < 20; n++) fifo.unshift(`u${n}`);
    expect(fifo.length).toBe(23);
    expect(fifo.shift()).toBe('u19');
    expect(fifo.at(fifo.length - 1)).toBe('c');
  });

  it('rounds its capacity up and keeps holes out of the queue', () => {
    const fifo = new Fifo<number>(100);
    for (let n = 0; n < 300; n++) fifo.push(n);
    expect(fifo.at(-1)).toBeUndefined();
    expect(fifo.at(299)).toBe(299);
    expect(fifo.at(300)).toBeUndefined();
  });

  it('clear() empties it and it stays usable', () => {
    const fifo = new Fifo<number>();
    for (let n = 0; n < 50; n++) fifo.push(n);
    fifo.clear();
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
    fifo.push(7);
    expect(fifo.shift()).toBe(7);
  });

  it('stores undefined-free references without keeping shifted ones', () => {
    const fifo = new Fifo<{ n: number }>();
    const item = { n: 1 };
    fifo.push(item);
    expect(fifo.shift()).toBe(item);
    expect(fifo.at(0)).toBeUndefined();
  });

  it('retain() keeps the accepted items in order, across a wrapped head', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 99 }), { maxLength: 100 }),
        (shifted, values) => {
          const fifo = new Fifo<number>();
          for (let n = 0; n < shifted; n++) fifo.push(-1);
          for (let n = 0; n < shifted; n++) fifo.shift();
          for (const value of values) fifo.push(value);
          fifo.retain((value) => value % 3 !== 0);
          const kept = values.filter((value) => value % 3 !== 0);
          expect(fifo.length).toBe(kept.length);
          for (let index = 0; index < kept.length; index++)
            expect(fifo.at(index)).toBe(kept[index]);
          expect(fifo.at(kept.length)).toBeUndefined();
          fifo.push(1000);
          expect(fifo.peekLast()).toBe(1000);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('behaves like an array under random push, unshift and shift', () => {
    type Step = { kind: 'push' | 'unshift'; value: number } | { kind: 'shift' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        kind: fc.constantFrom('push' as const, 'unshift' as const),
        value: fc.integer(),
      }),
      fc.constant({ kind: 'shift' as const }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const fifo = new Fifo<number>();
        const model: number[] = [];
        for (const next of steps) {
          if (next.kind === 'push') {
            fifo.push(next.value);
            model.push(next.value);
          } else if (next.kind === 'unshift') {
            fifo.unshift(next.value);
            model.unshift(next.value);
          } else {
            expect(fifo.shift()).toBe(model.shift());
          }
          expect(fifo.length).toBe(model.length);
          expect(fifo.peek()).toBe(model[0]);
        }
        for (let index = 0; index < model.length; index++)
          expect(fifo.at(index)).toBe(model[index]);
      }),
      { numRuns: 200 },
    );
  });
});
