// Replies that wait for the log: answered at once when their append is durable already (or
// without a log), in order as the log catches up, and on a failed write transactions fail with
// RabbitMQ's 406 text while definitions wait for their rewritten append.

import { describe, expect, it } from 'vitest';
import { type DurableLog, DurableReplies } from './durable-replies.js';
import type { ReplySink } from './shard-events.js';

class Log implements DurableLog {
  durableSeq = 0;
  syncRequests = 0;
  requestSync(): void {
    this.syncRequests++;
  }
}

class Sink implements ReplySink {
  readonly replies: [number, number, number, string][] = [];
  reply(requestId: number, replyCode: number, value: number, replyText = ''): void {
    this.replies.push([requestId, replyCode, value, replyText]);
  }
}

describe('durable replies', () => {
  it('answers at once without a log or when the append is durable already', () => {
    const sink = new Sink();
    new DurableReplies(sink, null).replyWhenDurable(1, 50, 7, true);
    const log = new Log();
    log.durableSeq = 10;
    new DurableReplies(sink, log).replyWhenDurable(2, 10, 8, false);
    expect(sink.replies).toEqual([
      [1, 0, 7, ''],
      [2, 0, 8, ''],
    ]);
    expect(log.syncRequests).toBe(0);
  });

  it('waits for the append, asks for a sync, and answers a prefix per drain', () => {
    const sink = new Sink();
    const log = new Log();
    const replies = new DurableReplies(sink, log);
    replies.replyWhenDurable(1, 3, 0, true);
    replies.replyWhenDurable(2, 5, 0, false);
    expect(log.syncRequests).toBe(2);
    replies.drain(4);
    expect(sink.replies.map((reply) => reply[0])).toEqual([1]);
    replies.drain(5);
    expect(sink.replies.map((reply) => reply[0])).toEqual([1, 2]);
    expect(replies.length).toBe(0);
  });

  it('fails lost transactions with 406 and moves lost definitions to their rewrite', () => {
    const sink = new Sink();
    const log = new Log();
    log.durableSeq = 2;
    const replies = new DurableReplies(sink, log);
    replies.replyWhenDurable(1, 4, 0, true);
    replies.replyWhenDurable(2, 5, 0, false);
    replies.fail(2, 9, new Error('ENOSPC: no space left'));
    expect(sink.replies).toEqual([
      [
        1,
        406,
        0,
        'partial tx completion: the log could not store the transaction (ENOSPC: no space left)',
      ],
    ]);
    replies.drain(5);
    expect(sink.replies).toHaveLength(1);
    replies.drain(9);
    expect(sink.replies.at(-1)).toEqual([2, 0, 0, '']);
  });
});
