// The producing side of the ring micro-benchmark (bench/micro.mjs), in its own worker thread: it
// writes small records into a SharedArrayBuffer ring from the BUILT package (dist/) as fast as
// the ring lets it, until the main thread raises the stop word, then reports how many it wrote.
// Each payload starts with the record's sequence number so the reader can check the order; the
// rest is copied from a template unless the run measures the ring's own cost alone.

import { parentPort, workerData } from 'node:worker_threads';
import { RingWriter } from '../dist/util/index.js';

/** Records between wake-ups of the reader, as a net/shard pair batches them. */
const WAKE_BATCH_RECORDS = 64;
/** How often the stop word is looked at; an atomic load per record would be measured too. */
const STOP_CHECK_RECORDS = 1024;
const RECORD_TYPE = 1;

const { shared, stopShared, payloadBytes, isCopyingPayload } = workerData;
const writer = new RingWriter(shared);
const stop = new Int32Array(stopShared);
const bytes = writer.bytes;
/** What each record carries after its sequence number; copied in, as real producers do. */
const template = Buffer.alloc(payloadBytes, 0x5a);
// A pending Atomics.waitAsync does not keep a thread alive: without this timer the worker would
// exit quietly while it waits for the reader to free space.
const keepAlive = setInterval(() => {}, 1000);

let sequence = 0;
let fullWaits = 0;
while (true) {
  if (sequence % STOP_CHECK_RECORDS === 0 && Atomics.load(stop, 0) !== 0) break;
  let offset = writer.reserve(payloadBytes);
  if (offset < 0) {
    fullWaits++;
    writer.wakeReader();
    await writer.waitForSpace();
    if (Atomics.load(stop, 0) !== 0) break;
    offset = writer.reserve(payloadBytes);
    if (offset < 0) continue;
  }
  bytes.writeUInt32LE(sequence >>> 0, offset);
  if (isCopyingPayload) template.copy(bytes, offset + 4, 4, payloadBytes);
  writer.commit(RECORD_TYPE, payloadBytes);
  sequence++;
  if (sequence % WAKE_BATCH_RECORDS === 0) writer.wakeReader();
}
writer.wakeReader();
clearInterval(keepAlive);
parentPort.postMessage({ recordsWritten: sequence, fullWaits });
