// The shard thread's entry point. It wires the rings to a Shard and runs its loop: drain the
// input ring in batches, run deliveries, wake the network thread once per batch, and sleep on
// the ring when there is nothing to do. Nothing here busy-waits: on two cores a spinning shard
// would starve the network thread.

import { parentPort, workerData } from 'node:worker_threads';
import { assert } from '../util/index.js';
import { RingOutbox } from '../util/index.js';
import { RingReader, RingWriter } from '../util/index.js';
import type { ShardWorkerData } from './pool.js';
import { Shard } from './shard.js';

/** Commands taken from the ring before the shard runs deliveries and yields to its event loop. */
const COMMANDS_PER_BATCH = 2048;

const data = workerData as ShardWorkerData;
assert(parentPort !== null, 'the shard runs in a worker thread');
const port = parentPort;

const input = new RingReader(data.commandRing);
const outbox = new RingOutbox(new RingWriter(data.eventRing), () => schedule());
const shard = new Shard(data.shardIndex, outbox);

let isScheduled = false;
let isSleeping = false;

function schedule(): void {
  if (isScheduled) return;
  isScheduled = true;
  setImmediate(runBatch);
}

function runBatch(): void {
  isScheduled = false;
  // While our output backlog drains, take no new commands: that keeps the backlog bounded.
  const taken = outbox.isBlocked ? 0 : input.poll(shard, COMMANDS_PER_BATCH);
  shard.afterBatch();
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

port.on('message', (message: { type: string }) => {
  if (message.type === 'stop') {
    port.close();
    process.exit(0);
  }
});
port.postMessage({ type: 'ready', shardIndex: data.shardIndex });
schedule();
