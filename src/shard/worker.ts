// The shard thread's entry point. It wires the rings to a Shard and runs its loop: drain the
// input ring in batches, run deliveries, wake the network thread once per batch, and sleep on
// the ring when there is nothing to do. Nothing here busy-waits: on two cores a spinning shard
// would starve the network thread.

import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { FileStorage, SegmentedLog } from '../log/index.js';
import { assert, RingOutbox, RingReader, RingWriter } from '../util/index.js';
import { MessageStore } from './message-store.js';
import type { ShardReady, ShardWorkerData } from './pool.js';
import type { ShardStats } from './records.js';
import { Shard } from './shard.js';

/** Commands taken from the ring before the shard runs deliveries and yields to its event loop. */
const COMMANDS_PER_BATCH = 2048;

const data = workerData as ShardWorkerData;
assert(parentPort !== null, 'the shard runs in a worker thread');
const port = parentPort;

const input = new RingReader(data.commandRing);
const outbox = new RingOutbox(new RingWriter(data.eventRing), () => schedule());

// Recovery runs here, before the shard takes any command: every shard recovers its own log in
// its own thread, so shards recover in parallel.
let store: MessageStore | null = null;
let ready: ShardReady = {
  type: 'ready',
  shardIndex: data.shardIndex,
  report: null,
  definitions: [],
  recoveredMessages: 0,
};
if (data.dataDir !== null) {
  const storage = new FileStorage(join(data.dataDir, 'shards', String(data.shardIndex)));
  const opened = await SegmentedLog.open(
    storage,
    data.log,
    (log) => (store = new MessageStore(log, data.memoryBudgetBytes)),
  );
  const recovered: MessageStore = store!;
  let recoveredMessages = 0;
  for (const copies of recovered.recovered.values()) recoveredMessages += copies.size;
  ready = {
    type: 'ready',
    shardIndex: data.shardIndex,
    report: opened.report,
    definitions: [...recovered.definitions.values()].map((entry) => entry.record),
    recoveredMessages,
  };
}
const shard = new Shard(data.shardIndex, outbox, store, data.memoryBudgetBytes);
// A failing log (disk full, I/O error) raises the disk alarm on the network thread.
shard.onLogHealth = (isFailing, reason) =>
  port.postMessage({ type: 'log-health', shardIndex: data.shardIndex, isFailing, reason });

let isScheduled = false;
let isSleeping = false;

function schedule(): void {
  if (isScheduled) return;
  isScheduled = true;
  setImmediate(runBatch);
}

// The shard's one timer (message expiry), armed for the soonest head expiry of any queue.
let timer: NodeJS.Timeout | null = null;
let timerAtMs = Infinity;

function armTimer(): void {
  const atMs = shard.nextTimerAtMs();
  if (atMs === timerAtMs) return;
  if (timer !== null) clearTimeout(timer);
  timer = null;
  timerAtMs = atMs;
  if (atMs === Infinity) return;
  timer = setTimeout(onTimer, Math.max(0, atMs - Date.now()));
}

function onTimer(): void {
  timer = null;
  timerAtMs = Infinity;
  shard.runTimers();
  shard.afterBatch();
  armTimer();
  if (shard.hasDispatchWork()) schedule();
}

function runBatch(): void {
  isScheduled = false;
  shard.beginBatch();
  // While our output backlog drains, take no new commands: that keeps the backlog bounded.
  const taken = outbox.isBlocked ? 0 : input.poll(shard, COMMANDS_PER_BATCH);
  shard.afterBatch();
  armTimer();
  if (outbox.isBlocked) return; // the outbox calls schedule() when it drains
  if (taken === COMMANDS_PER_BATCH || shard.hasDispatchWork() || input.hasRecords()) {
    schedule();
    return;
  }
  sleep();
}

function sleep(): void {
  if (isSleeping) return;
  isSleeping = true;
  void input.waitForRecords().then(() => {
    isSleeping = false;
    schedule();
  });
}

port.on('message', (message: { type: string; requestId?: number; seq?: number; ms?: number }) => {
  if (message.type === 'ping') {
    // Liveness: answered from this thread's event loop, so a shard stuck in a loop stays silent.
    port.postMessage({ type: 'pong', seq: message.seq });
    return;
  }
  if (message.type === 'block') {
    // Test hook for the liveness check: stop answering for `ms`, as a stuck shard would.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, message.ms ?? 0);
    return;
  }
  if (message.type === 'stats') {
    const heap = getHeapStatistics();
    const stats: ShardStats = {
      ...shard.stats(),
      heap: {
        usedBytes: heap.used_heap_size,
        totalBytes: heap.total_heap_size,
        externalBytes: heap.external_memory,
      },
    };
    port.postMessage({ type: 'stats', requestId: message.requestId, stats });
    return;
  }
  if (message.type !== 'stop') return;
  // Everything applied so far reaches the disk before the thread ends.
  const closing = store === null ? Promise.resolve() : (store as MessageStore).log.close();
  void closing.then(() => {
    port.close();
    process.exit(0);
  });
});
port.postMessage(ready);
schedule();
