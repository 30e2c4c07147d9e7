// The shard's timer heaps: the soonest due time across expiries and retries, due expiries run
// through the handler (stale ones skipped: a deleted queue, or a head whose time moved), and
// due retries return to their queue, which becomes active for its consumers.

import { describe, expect, it } from 'vitest';
import { messageOf } from '../../test/helpers/shard-parts.js';
import { ActiveQueues } from './active-queues.js';
import { Consumer, Queue, ShardChannel } from './queue.js';
import { type ExpiryHandler, QueueTimers } from './queue-timers.js';

function queueOf(queueId: number, args: Record<string, unknown> = {}): Queue {
  return new Queue({
    queueId,
    vhost: '/',
    name: `q${queueId}`,
    isDurable: false,
    isAutoDelete: false,
    isExclusive: false,
    arguments: args,
  });
}

class Expiries implements ExpiryHandler {
  readonly dropped: number[] = [];
  dropExpiredHead(queue: Queue): void {
    this.dropped.push(queue.queueId);
    queue.take();
  }
}

describe('queue timers', () => {
  it('runs due head expiries soonest first, skips stale ones, and reschedules the next head', () => {
    const timers = new QueueTimers(new ActiveQueues());
    const expiries = new Expiries();
    const first = queueOf(1);
    first.enqueueTimed(messageOf('a'), 100);
    first.enqueueTimed(messageOf('b'), 300);
    const second = queueOf(2);
    second.enqueueTimed(messageOf('c'), 50);
    const deleted = queueOf(3);
    deleted.enqueueTimed(messageOf('d'), 10);
    for (const queue of [first, second, deleted]) timers.scheduleExpiry(queue);
    deleted.isDeleted = true;
    expect(timers.nextAtMs()).toBe(10);
    timers.run(100, expiries);
    expect(expiries.dropped).toEqual([2, 1]);
    expect(timers.nextAtMs()).toBe(300);
    timers.run(299, expiries);
    expect(expiries.dropped).toEqual([2, 1]);
    timers.run(300, expiries);
    expect(expiries.dropped).toEqual([2, 1, 1]);
    expect(timers.nextAtMs()).toBe(Infinity);
  });

  it('returns delayed retries when due and activates a queue with consumers', () => {
    const active = new ActiveQueues();
    const timers = new QueueTimers(active);
    const queue = queueOf(1);
    queue.addConsumer(new Consumer(1, queue, new ShardChannel(1, 1, 1), 0, false));
    queue.enqueue(messageOf('a'));
    const entry = queue.take()!;
    queue.delay(entry, 500);
    timers.scheduleRetry(queue);
    expect(timers.nextAtMs()).toBe(500);
    timers.run(499, new Expiries());
    expect(queue.readyCount).toBe(0);
    timers.run(500, new Expiries());
    expect(queue.readyCount).toBe(1);
    expect(active.queues).toEqual([queue]);
    expect(timers.nextAtMs()).toBe(Infinity);
  });
});
