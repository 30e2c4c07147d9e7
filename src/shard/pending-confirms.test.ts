// Confirm batching: confirms leave in publish order once the append each waits for is durable,
// one per run of publishes from the same channel; a failed log rejects only the publishes whose
// own append was lost; the FIFO grows past its first capacity without losing order.

import { describe, expect, it } from 'vitest';
import { type ConfirmSink, PendingConfirms } from './pending-confirms.js';

class Sink implements ConfirmSink {
  readonly sent: string[] = [];
  confirm(connectionId: number, channelId: number, confirmSeq: number): void {
    this.sent.push(`confirm ${connectionId}/${channelId} ${confirmSeq}`);
  }
  reject(connectionId: number, channelId: number, confirmSeq: number): void {
    this.sent.push(`reject ${connectionId}/${channelId} ${confirmSeq}`);
  }
}

describe('pending confirms', () => {
  it('sends one confirm per run of a channel, covering the run', () => {
    const pending = new PendingConfirms();
    const sink = new Sink();
    for (let seq = 1; seq <= 3; seq++) pending.push(0, 1, 1, seq);
    pending.push(0, 1, 2, 1);
    pending.push(0, 1, 1, 4);
    pending.drain(0, sink);
    expect(sink.sent).toEqual(['confirm 1/1 3', 'confirm 1/2 1', 'confirm 1/1 4']);
    expect(pending.length).toBe(0);
  });

  it('holds confirms, and transient ones behind them, until their append is durable', () => {
    const pending = new PendingConfirms();
    const sink = new Sink();
    pending.push(5, 1, 1, 1);
    pending.push(0, 1, 1, 2); // transient: waits behind seq 1
    pending.push(9, 2, 1, 1);
    pending.drain(4, sink);
    expect(sink.sent).toEqual([]);
    pending.drain(5, sink);
    expect(sink.sent).toEqual(['confirm 1/1 2']);
    pending.drain(9, sink);
    expect(sink.sent).toEqual(['confirm 1/1 2', 'confirm 2/1 1']);
  });

  it('on a failed log rejects lost publishes only, then confirms each run', () => {
    const pending = new PendingConfirms();
    const sink = new Sink();
    pending.push(3, 1, 1, 1); // durable
    pending.push(7, 1, 1, 2); // lost
    pending.push(0, 1, 1, 3); // transient behind it
    pending.push(8, 2, 1, 1); // lost
    pending.fail(3, sink);
    expect(sink.sent).toEqual(['reject 1/1 2', 'confirm 1/1 3', 'reject 2/1 1', 'confirm 2/1 1']);
    // Later publishes no longer wait for the lost appends.
    pending.push(0, 1, 1, 4);
    pending.drain(3, sink);
    expect(sink.sent.at(-1)).toBe('confirm 1/1 4');
  });

  it('keeps order past its first capacity, with the head wrapped', () => {
    const pending = new PendingConfirms();
    const sink = new Sink();
    for (let seq = 1; seq <= 1000; seq++) pending.push(seq, 1, seq % 2, seq);
    pending.drain(900, sink);
    for (let seq = 1001; seq <= 3000; seq++) pending.push(seq, 1, seq % 2, seq);
    expect(pending.length).toBe(2100);
    sink.sent.length = 0;
    pending.drain(3000, sink);
    expect(sink.sent).toHaveLength(2100);
    expect(sink.sent[0]).toBe('confirm 1/1 901');
    expect(sink.sent.at(-1)).toBe('confirm 1/0 3000');
  });
});
