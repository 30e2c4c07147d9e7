// The sampled counters: one entry per queue with its counts, and memory shared out so that the
// queues' bytes add up to the shard's bodies in memory (a block in two queues counts once).

import { describe, expect, it } from 'vitest';
import { messageOf } from '../../test/helpers/shard-parts.js';
import { Queue } from './queue.js';
import { QUEUE_ENTRY_OVERHEAD_BYTES, shardStats } from './shard-stats.js';

function queueOf(queueId: number): Queue {
  return new Queue({
    queueId,
    vhost: '/',
    name: `q${queueId}`,
    isDurable: false,
    isAutoDelete: false,
    isExclusive: false,
    arguments: {},
  });
}

describe('shard stats', () => {
  it('lists every queue and shares a block held by two queues between them', () => {
    const first = queueOf(1);
    const second = queueOf(2);
    const shared = messageOf('shared body');
    const own = messageOf('own');
    first.enqueue(shared);
    second.enqueue(shared);
    second.enqueue(own);
    const queues = new Map([
      [1, first],
      [2, second],
    ]);
    const inMemory = shared.memoryBytes + own.memoryBytes;
    const stats = shardStats(3, queues, inMemory, 4, null);
    expect(stats).toMatchObject({ shardIndex: 3, bodyBytesInMemory: inMemory, pendingConfirms: 4 });
    expect(stats.log).toBeNull();
    expect(stats.queues.map((queue) => [queue.queueId, queue.ready])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const overhead = 3 * QUEUE_ENTRY_OVERHEAD_BYTES;
    const total = stats.queues.reduce((sum, queue) => sum + queue.memoryBytes, 0);
    expect(Math.abs(total - overhead - inMemory)).toBeLessThanOrEqual(1);
  });
});
