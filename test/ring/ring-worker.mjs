// The far end of the ring tests, in a real worker thread: it produces or consumes a seeded record
// stream (ring-records.mjs) over a SharedArrayBuffer ring from the BUILT package (dist/), or
// plays one side of a wake-up test. It reports with postMessage: { ok, ... } or { ok: false, error }.

import { parentPort, workerData } from 'node:worker_threads';
import { RingReader, RingWriter } from '../../dist/util/spsc-ring.js';
import { checkRecord, fillRecord, makeSizer, typeOf } from './ring-records.mjs';

const WAKE_BATCH_RECORDS = 64;
const STALL_MS = 4000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes `count` records with RingWriter: reserve/commit, or writeFragments for big ones. */
async function produce(shared, count, seed, profile) {
  const writer = new RingWriter(shared);
  const maxBytes = writer.recordPayloadMaxBytes;
  const nextSize = makeSizer(seed, maxBytes, profile);
  let scratch = Buffer.alloc(0);
  let fullWaits = 0;
  for (let seq = 0; seq < count; seq++) {
    const size = nextSize();
    const type = typeOf(seq);
    if (size <= maxBytes) {
      let offset = writer.reserve(size);
      while (offset < 0) {
        fullWaits++;
        writer.wakeReader();
        await writer.waitForSpace();
        offset = writer.reserve(size);
      }
      fillRecord(writer.bytes, offset, seq, size);
      writer.commit(type, size);
    } else {
      if (scratch.length < size) scratch = Buffer.alloc(size);
      fillRecord(scratch, 0, seq, size);
      let start = writer.writeFragments(type, scratch, 0, size);
      while (start < size) {
        fullWaits++;
        writer.wakeReader();
        await writer.waitForSpace();
        start = writer.writeFragments(type, scratch, start, size);
      }
    }
    if (seq % WAKE_BATCH_RECORDS === WAKE_BATCH_RECORDS - 1) writer.wakeReader();
  }
  writer.wakeReader();
  return { ok: true, fullWaits };
}

/** Reads and checks `count` records; fails on the first difference or on a stall. */
async function consume(shared, count, seed, profile) {
  const reader = new RingReader(shared);
  const nextSize = makeSizer(seed, reader.recordPayloadMaxBytes, profile);
  let seq = 0;
  let error = null;
  const sink = {
    onRecord(type, bytes, start, end) {
      if (error !== null) return;
      if (seq >= count) {
        error = `record beyond the ${count} written (type ${type}, ${end - start} bytes)`;
        return;
      }
      error = checkRecord(seq, typeOf(seq), nextSize(), type, bytes, start, end);
      seq++;
    },
  };
  let lastProgressMs = Date.now();
  let lastSeq = -1;
  while (seq < count && error === null) {
    if (reader.poll(sink, 4096) === 0) {
      await Promise.race([reader.waitForRecords(), sleep(100)]);
    }
    if (seq !== lastSeq) {
      lastSeq = seq;
      lastProgressMs = Date.now();
    } else if (Date.now() - lastProgressMs > STALL_MS) {
      error = `stalled at record ${seq} of ${count}`;
    }
  }
  // Nothing may follow the last record.
  await sleep(20);
  if (error === null && reader.hasRecords()) reader.poll(sink, 1);
  return error === null ? { ok: true, count: seq } : { ok: false, error };
}

/** Sleeps, then writes one record and wakes the reader; reports when it wrote. */
async function writeAfterPause(shared, pauseMs) {
  const writer = new RingWriter(shared);
  await sleep(pauseMs);
  const offset = writer.reserve(8);
  fillRecord(writer.bytes, offset, 7, 8);
  const wroteAtMs = Date.now();
  writer.commit(typeOf(7), 8);
  writer.wakeReader();
  return { ok: true, wroteAtMs };
}

/** Sleeps on waitForRecords until a record comes; reports when it woke. */
async function readAfterWait(shared) {
  const reader = new RingReader(shared);
  const sleptAtMs = Date.now();
  await reader.waitForRecords();
  const wokeAtMs = Date.now();
  let received = null;
  reader.poll(
    {
      onRecord(type, bytes, start, end) {
        received = checkRecord(7, typeOf(7), 8, type, bytes, start, end) ?? 'ok';
      },
    },
    10,
  );
  return { ok: received === 'ok', sleptAtMs, wokeAtMs, error: received };
}

/** Sleeps, then drains the ring; reports when it freed the space. */
async function drainAfterPause(shared, pauseMs) {
  const reader = new RingReader(shared);
  await sleep(pauseMs);
  let records = 0;
  const drainedAtMs = Date.now();
  while (
    reader.poll(
      {
        onRecord() {
          records++;
        },
      },
      1 << 20,
    ) > 0
  );
  return { ok: true, drainedAtMs, records };
}

// A pending Atomics.waitAsync does not keep a thread's event loop alive (spsc-ring.ts says so), so
// without this timer a worker waiting for space or records would simply exit.
const keepAlive = setInterval(() => undefined, 1000);

const { role, shared, count, seed, profile, pauseMs } = workerData;
const roles = {
  produce: () => produce(shared, count, seed, profile),
  consume: () => consume(shared, count, seed, profile),
  writeAfterPause: () => writeAfterPause(shared, pauseMs),
  readAfterWait: () => readAfterWait(shared),
  drainAfterPause: () => drainAfterPause(shared, pauseMs),
};
roles[role]()
  .then(
    (result) => parentPort.postMessage(result),
    (error) => parentPort.postMessage({ ok: false, error: String(error?.stack ?? error) }),
  )
  .finally(() => clearInterval(keepAlive));
