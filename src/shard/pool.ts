// Starts and stops the shard worker threads, and creates the two rings each one talks over.
// Network thread only. The rings carry all data and queue operations; postMessage carries only
// the control plane: start-up, shutdown, stats, liveness pings and log health (a shard's log
// failing writes, or healed).

import { totalmem } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LogOptions, RecoveryReport } from '../log/index.js';
import { allocateRing } from '../util/index.js';
import type { DefinitionRecord } from './message-store.js';

export interface ShardWorkerData {
  shardIndex: number;
  /** Network thread -> shard. */
  commandRing: SharedArrayBuffer;
  /** Shard -> network thread. */
  eventRing: SharedArrayBuffer;
  /** Where shard logs live (<dataDir>/shards/<index>); null keeps everything in memory. */
  dataDir: string | null;
  log: Partial<LogOptions>;
  /** Bytes of queued message bodies this shard keeps in memory. */
  memoryBudgetBytes: number;
}

/** What a shard reports when it has recovered and takes commands. */
export interface ShardReady {
  type: 'ready';
  shardIndex: number;
  report: RecoveryReport | null;
  /** Durable definitions the shard's log kept (shard 0 keeps them all). */
  definitions: DefinitionRecord[];
  /** Queue copies of persistent messages that recovery found (a message in two queues: 2). */
  recoveredMessages: number;
}

/** A shard's log started failing writes, or works again (`reason` says why it failed). */
export interface ShardLogHealth {
  type: 'log-health';
  shardIndex: number;
  isFailing: boolean;
  reason: string;
}

export interface ShardThread {
  shardIndex: number;
  commandRing: SharedArrayBuffer;
  eventRing: SharedArrayBuffer;
  worker: Worker;
  ready: ShardReady;
  /** Set by stopShardThreads: the thread's exit is expected from then on. */
  isStopping: boolean;
}

export interface ShardPoolOptions {
  shardCount: number;
  ringBytes: number;
  dataDir: string | null;
  log: Partial<LogOptions>;
  memoryBudgetBytes: number;
  /** Called when a shard thread dies (a bug) or exits unasked. */
  onShardFailure: (shardIndex: number, error: Error) => void;
  /** Called when a shard's log starts failing writes (disk full, I/O error) or works again. */
  onLogHealth: (health: ShardLogHealth) => void;
}

/**
 * A worker's heap is capped at 4 GiB by default: ~20M queued messages in one shard would crash
 * it, and recovery would crash it again. The memory alarm (a share of RAM) is the limit meant to
 * hold a broker back, so a shard's heap may grow to the machine's memory.
 */
const SHARD_OLD_GENERATION_MB = Math.max(4096, Math.ceil(totalmem() / 2 ** 20));

/** The compiled worker entry, next to this file in dist/. */
const workerUrl = new URL('./worker.js', import.meta.url);

export async function startShardThreads(options: ShardPoolOptions): Promise<ShardThread[]> {
  const starting: Promise<ShardThread>[] = [];
  for (let shardIndex = 0; shardIndex < options.shardCount; shardIndex++) {
    const commandRing = allocateRing(options.ringBytes);
    const eventRing = allocateRing(options.ringBytes);
    const data: ShardWorkerData = {
      shardIndex,
      commandRing,
      eventRing,
      dataDir: options.dataDir,
      log: options.log,
      memoryBudgetBytes: options.memoryBudgetBytes,
    };
    const worker = new Worker(workerUrl, {
      workerData: data,
      name: `warren-shard-${shardIndex}`,
      resourceLimits: {
        maxOldGenerationSizeMb: SHARD_OLD_GENERATION_MB,
      },
    });
    starting.push(
      waitForReady(worker).then((ready) => {
        const thread: ShardThread = {
          shardIndex,
          commandRing,
          eventRing,
          worker,
          ready,
          isStopping: false,
        };
        worker.on('error', (error) => options.onShardFailure(shardIndex, error));
        worker.on('exit', (code) => {
          if (!thread.isStopping)
            options.onShardFailure(shardIndex, new Error(`shard thread exited with code ${code}`));
        });
        worker.on('message', (message: { type: string }) => {
          if (message.type === 'log-health') options.onLogHealth(message as ShardLogHealth);
        });
        return thread;
      }),
    );
  }
  return Promise.all(starting);
}

function waitForReady(worker: Worker): Promise<ShardReady> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== 'ready') return;
      worker.off('error', reject);
      worker.off('message', onMessage);
      resolve(message as ShardReady);
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
          thread.isStopping = true;
          thread.worker.once('exit', () => resolve());
          thread.worker.postMessage({ type: 'stop' });
        }),
    ),
  );
}
