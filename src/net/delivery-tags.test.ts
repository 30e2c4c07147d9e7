// Unit tests for a channel's delivery-tag table: tags 1, 2, 3 ... shared by tracked (ack mode)
// and untracked (no-ack) deliveries, lookups of unacked tags, single and multiple settles, and a
// window that grows and wraps. The property test beside this file checks random sequences.

import { describe, expect, it } from 'vitest';
import { DeliveryTagTable, type SettledDeliverySink } from './delivery-tags.js';

class Collected implements SettledDeliverySink {
  readonly settled: [shardIndex: number, deliveryId: number][] = [];
  collect(shardIndex: number, deliveryId: number): void {
    this.settled.push([shardIndex, deliveryId]);
  }
}

describe('DeliveryTagTable', () => {
  it('hands out tags from 1, tracked or not', () => {
    const table = new DeliveryTagTable();
    expect(table.assign(true, 0, 100)).toBe(1);
    expect(table.assign(false, 0, 101)).toBe(2);
    expect(table.assign(true, 1, 102)).toBe(3);
    expect(table.unackedCount).toBe(2);
    expect(table.isUnacked(1)).toBe(true);
    expect(table.isUnacked(2)).toBe(false);
    expect(table.isUnacked(3)).toBe(true);
    expect(table.isUnacked(0)).toBe(false);
    expect(table.isUnacked(4)).toBe(false);
  });

  it('settles one tag and forgets it', () => {
    const table = new DeliveryTagTable();
    table.assign(true, 2, 7);
    table.assign(true, 3, 8);
    const sink = new Collected();
    table.settleOne(2, sink);
    expect(sink.settled).toEqual([[3, 8]]);
    expect(table.isUnacked(2)).toBe(false);
    expect(table.isUnacked(1)).toBe(true);
    expect(table.unackedCount).toBe(1);
  });

  it('settles up to a tag, in tag order, skipping no-ack and settled tags', () => {
    const table = new DeliveryTagTable();
    for (let n = 1; n <= 6; n++) table.assign(n !== 3, n % 2, n * 10);
    const sink = new Collected();
    table.settleOne(2, sink);
    sink.settled.length = 0;
    table.settleUpTo(5, sink);
    expect(sink.settled).toEqual([
      [1, 10],
      [0, 40],
      [1, 50],
    ]);
    expect(table.unackedCount).toBe(1);
    expect(table.isUnacked(6)).toBe(true);
  });

  it('settles everything with tag 0 (multiple=true, delivery-tag=0)', () => {
    const table = new DeliveryTagTable();
    for (let n = 1; n <= 5; n++) table.assign(true, 0, n);
    const sink = new Collected();
    table.settleUpTo(0, sink);
    expect(sink.settled.map(([, id]) => id)).toEqual([1, 2, 3, 4, 5]);
    expect(table.unackedCount).toBe(0);
    table.settleUpTo(0, sink);
    expect(sink.settled.length).toBe(5);
  });

  it('settling up to a tag beyond the last one settles all', () => {
    const table = new DeliveryTagTable();
    table.assign(true, 0, 1);
    table.assign(true, 0, 2);
    const sink = new Collected();
    table.settleUpTo(1000, sink);
    expect(sink.settled.length).toBe(2);
    expect(table.assign(true, 0, 3)).toBe(3);
    expect(table.isUnacked(3)).toBe(true);
  });

  it('keeps tags after the window empties: numbering never restarts', () => {
    const table = new DeliveryTagTable();
    const sink = new Collected();
    for (let n = 1; n <= 3; n++) table.settleOne(table.assign(true, 0, n), sink);
    expect(table.assign(false, 0, 4)).toBe(4);
    expect(table.assign(true, 0, 5)).toBe(5);
    expect(table.isUnacked(5)).toBe(true);
    expect(table.isUnacked(4)).toBe(false);
  });

  it('grows past its initial window and wraps, keeping every entry', () => {
    const table = new DeliveryTagTable();
    const sink = new Collected();
    // Move the window's start so the ring wraps before it grows.
    for (let n = 1; n <= 50; n++) table.settleOne(table.assign(true, 0, n), sink);
    sink.settled.length = 0;
    const tags: number[] = [];
    for (let n = 0; n < 5000; n++) tags.push(table.assign(n % 7 !== 0, n % 5, 1_000_000 + n));
    expect(tags[0]).toBe(51);
    expect(tags[4999]).toBe(5050);
    for (let n = 0; n < 5000; n++) expect(table.isUnacked(tags[n]!)).toBe(n % 7 !== 0);
    table.settleUpTo(tags[2499]!, sink);
    const expectedFirstHalf = [];
    for (let n = 0; n < 2500; n++) if (n % 7 !== 0) expectedFirstHalf.push([n % 5, 1_000_000 + n]);
    expect(sink.settled).toEqual(expectedFirstHalf);
  });

  it('keeps large delivery ids exactly', () => {
    const table = new DeliveryTagTable();
    const id = Number.MAX_SAFE_INTEGER - 1;
    table.assign(true, 29, id);
    const sink = new Collected();
    table.settleOne(1, sink);
    expect(sink.settled).toEqual([[29, id]]);
  });
});
