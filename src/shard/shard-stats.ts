// The counters a shard reports to management when asked (postMessage: the control plane), never
// pushed per message. Shard thread only; pure: it reads the queues and the log and keeps nothing.
// Invariant: queues' memoryBytes add up to the shard's bodies plus per-copy overhead, even when
// several queues share one block or blocks are paged out.

import { SYNC_MS_BUCKET_BOUNDS, type SegmentedLog } from '../log/index.js';
import type { Queue } from './queue.js';
import type { QueueStats, ShardStats } from './records.js';

/** What one queued copy costs beyond its message block: its entry object and queue slot. */
export const QUEUE_ENTRY_OVERHEAD_BYTES = 64;

export function shardStats(
  shardIndex: number,
  queues: ReadonlyMap<number, Queue>,
  bodyBytesInMemory: number,
  pendingConfirms: number,
  log: SegmentedLog | null,
): Omit<ShardStats, 'heap'> {
  const stats: QueueStats[] = [];
  // Blocks shared by several queues, or paged out, are shared out so queues sum to the shard.
  let heldBytes = 0;
  for (const queue of queues.values()) heldBytes += queue.heldBytes;
  const share = heldBytes > bodyBytesInMemory ? bodyBytesInMemory / heldBytes : 1;
  for (const queue of queues.values()) {
    const copies = queue.readyCount + queue.unackedCount;
    stats.push({
      memoryBytes: Math.round(queue.heldBytes * share) + copies * QUEUE_ENTRY_OVERHEAD_BYTES,
      queueId: queue.queueId,
      ready: queue.readyCount,
      unacked: queue.unackedCount,
      consumers: queue.consumers.length,
      published: queue.publishedCount,
      delivered: queue.deliveredCount,
      acked: queue.ackedCount,
    });
  }
  return {
    shardIndex,
    queues: stats,
    bodyBytesInMemory,
    pendingConfirms,
    log:
      log === null
        ? null
        : {
            appendSeq: log.appendSeq,
            durableSeq: log.durableSeq,
            syncCycles: log.syncCycles,
            syncMsTotal: log.syncMsTotal,
            syncMsMax: log.syncMsMax,
            syncMsBucketBounds: SYNC_MS_BUCKET_BOUNDS,
            syncMsBucketCounts: [...log.syncMsBucketCounts],
            bytesWritten: log.bytesWritten,
            segments: log.openSegmentCount,
            totalBytes: log.totalBytes,
          },
  };
}
