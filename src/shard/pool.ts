// Starts and stops the shard worker threads, and creates the two rings each one talks over.
// Network thread only. The rings carry all data and queue operations; postMessage carries only
// start-up and shutdown.

import { Worker } from 'node:worker_threads';
import { allocateRing } from '../util/index.js';

export interface ShardWorkerData {
  shardIndex: number;
  /** Network thread -> shard. */
  commandRing: SharedArrayBuffer;
  /** Shard -> network thread. */
  eventRing: SharedArrayBuffer;
}

export interface ShardThread {
  shardIndex: number;
  commandRing: SharedArrayBuffer;
  eventRing: SharedArrayBuffer;
  worker: Worker;
}

export interface ShardPoolOptions {
  shardCount: number;
  ringBytes: number;
}

/** The compiled worker entry, next to this file in dist/. */
const workerUrl = new URL('./worker.js', import.meta.url);

export async function startShardThreads(options: ShardPoolOptions): Promise<ShardThread[]> {
  const threads: ShardThread[] = [];
  for (let shardIndex = 0; shardIndex < options.shardCount; shardIndex++) {
    const commandRing = allocateRing(options.ringBytes);
    const eventRing = allocateRing(options.ringBytes);
    const data: ShardWorkerData = { shardIndex, commandRing, eventRing };
    const worker = new Worker(workerUrl, { workerData: data, name: `warren-shard-${shardIndex}` });
    threads.push({ shardIndex, commandRing, eventRing, worker });
  }
  await Promise.all(threads.map((thread) => waitForReady(thread.worker)));
  return threads;
}

function waitForReady(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== 'ready') return;
      worker.off('error', reject);
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

export async function stopShardThreads(threads: readonly ShardThread[]): Promise<void> {
  await Promise.all(
    threads.map(
      (thread) =>
        new Promise<void>((resolve) => {
          thread.worker.once('exit', () => resolve());
          thread.worker.postMessage({ type: 'stop' });
        }),
    ),
  );
}
