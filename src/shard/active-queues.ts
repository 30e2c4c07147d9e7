// The queues that may have deliveries to make: each has ready messages and a consumer that may
// have room, or just got one. Shard thread only. A queue is listed at most once (its isActive
// flag says whether it is); the dispatcher drops it when it has nothing more it can deliver.

import type { Queue } from './queue.js';

export class ActiveQueues {
  /** The listed queues, in no particular order. */
  readonly queues: Queue[] = [];

  get length(): number {
    return this.queues.length;
  }

  /** Lists a queue for delivery; a deleted or already listed queue is left alone. */
  activate(queue: Queue): void {
    if (queue.isActive || queue.isDeleted) return;
    queue.isActive = true;
    this.queues.push(queue);
  }

  /** Unlists the queue at `index` (its place goes to the last one). */
  removeAt(index: number): void {
    const queues = this.queues;
    queues[index]!.isActive = false;
    queues[index] = queues[queues.length - 1]!;
    queues.pop();
  }
}
