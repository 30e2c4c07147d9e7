// The shard's one timer, as two heaps of due times: queues' head expiries (TTL) and queues'
// delayed retries (Warren's retry extension), soonest first. Shard thread only. A heap entry is
// stale once its queue is deleted or the queue's own timerAtMs / retryTimerAtMs moved on; stale
// entries are skipped when they come up, never searched for.

import { MinHeap } from '../util/index.js';
import type { ActiveQueues } from './active-queues.js';
import { expiresAtOf, type Queue } from './queue.js';

/** A queue's due time the shard's timer waits for. */
interface QueueTimer {
  queue: Queue;
  atMs: number;
}

function timerAtOf(timer: QueueTimer): number {
  return timer.atMs;
}

/** What a due head expiry runs (the queue rules: drop or dead-letter the expired head). */
export interface ExpiryHandler {
  dropExpiredHead(queue: Queue): void;
}

export class QueueTimers {
  /** Head expiries of queues whose messages can expire, soonest first. */
  private readonly expiryTimers = new MinHeap<QueueTimer>(timerAtOf);
  /** When queues' delayed retries are due, soonest first. */
  private readonly retryTimers = new MinHeap<QueueTimer>(timerAtOf);
  private readonly active: ActiveQueues;

  constructor(active: ActiveQueues) {
    this.active = active;
  }

  /** When the timer should next run (ms since the epoch), or Infinity for never. */
  nextAtMs(): number {
    return Math.min(
      this.expiryTimers.peek()?.atMs ?? Infinity,
      this.retryTimers.peek()?.atMs ?? Infinity,
    );
  }

  /** Sets the timer for a queue's head, if it can expire sooner than already set. */
  scheduleExpiry(queue: Queue): void {
    const head = queue.peek();
    if (head === undefined) return;
    const atMs = expiresAtOf(head);
    if (atMs === Infinity || atMs >= queue.timerAtMs) return;
    queue.timerAtMs = atMs;
    this.expiryTimers.push({ queue, atMs });
  }

  /** Sets the timer for a queue's next delayed retry. */
  scheduleRetry(queue: Queue): void {
    const atMs = queue.nextDelayedAtMs;
    if (atMs === Infinity || atMs >= queue.retryTimerAtMs) return;
    queue.retryTimerAtMs = atMs;
    this.retryTimers.push({ queue, atMs });
  }

  /**
   * Runs what is due at `nowMs`: expired heads go (through `expiry`) and each queue's next head
   * is scheduled; retries whose delay is over return to their queues, which become active.
   */
  run(nowMs: number, expiry: ExpiryHandler): void {
    const timers = this.expiryTimers;
    for (
      let timer = timers.peek();
      timer !== undefined && timer.atMs <= nowMs;
      timer = timers.peek()
    ) {
      timers.pop();
      const queue = timer.queue;
      // A stale timer: the queue is gone, or its head changed and another timer stands for it.
      if (queue.isDeleted || queue.timerAtMs !== timer.atMs) continue;
      queue.timerAtMs = Infinity;
      expiry.dropExpiredHead(queue);
      this.scheduleExpiry(queue);
    }
    const retries = this.retryTimers;
    for (
      let timer = retries.peek();
      timer !== undefined && timer.atMs <= nowMs;
      timer = retries.peek()
    ) {
      retries.pop();
      const queue = timer.queue;
      if (queue.isDeleted || queue.retryTimerAtMs !== timer.atMs) continue;
      queue.retryTimerAtMs = Infinity;
      if (queue.releaseDue(nowMs) > 0) {
        if (queue.hasExpiringEntries) this.scheduleExpiry(queue);
        if (queue.consumers.length > 0) this.active.activate(queue);
      }
      this.scheduleRetry(queue);
    }
  }
}
