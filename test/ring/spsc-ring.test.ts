// The SharedArrayBuffer ring across real worker threads, from the built package (dist/): millions
// of variable-size records (some fragmented, some forcing padding at the wrap point) checked for
// loss, duplication, reordering and corruption in both directions, through RingWriter and through
// RingOutbox; write positions crossing 2^32; and sleeping readers and writers woken by the other
// thread after a pause. The worker side lives in ring-worker.mjs, the record stream in
// ring-records.mjs.

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { allocateRing, RingOutbox, RingReader, RingWriter } from '../../dist/util/index.js';
import { checkRecord, fillRecord, makeSizer, type SizeProfile, typeOf } from './ring-records.mjs';

/** Small enough that the records wrap thousands of times and large ones must fragment. */
const RING_BYTES = 64 * 1024;

interface WorkerResult {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** Runs one role of ring-worker.mjs and resolves with its report. */
function runWorker(workerData: Record<string, unknown>): {
  done: Promise<WorkerResult>;
  worker: Worker;
} {
  const worker = new Worker(new URL('./ring-worker.mjs', import.meta.url), { workerData });
  const done = new Promise<WorkerResult>((resolve, reject) => {
    worker.once('message', (result: WorkerResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`ring worker exited with code ${code} before reporting`)),
    );
  });
  void done.finally(() => void worker.terminate()).catch(() => undefined);
  return { done, worker };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads and checks `count` records on this thread; returns the first problem, or null. */
async function consumeHere(
  shared: SharedArrayBuffer,
  count: number,
  seed: number,
  profile: SizeProfile = 'mixed',
): Promise<string | null> {
  const reader = new RingReader(shared);
  const nextSize = makeSizer(seed, reader.recordPayloadMaxBytes, profile);
  let seq = 0;
  let error: string | null = null;
  const sink = {
    onRecord(type: number, bytes: Buffer, start: number, end: number): void {
      if (error !== null) return;
      if (seq >= count) {
        error = `record beyond the ${count} written (type ${type}, ${end - start} bytes)`;
        return;
      }
      error = checkRecord(seq, typeOf(seq), nextSize(), type, bytes, start, end);
      seq++;
    },
  };
  let lastSeq = -1;
  let lastProgressMs = Date.now();
  while (seq < count && error === null) {
    if (reader.poll(sink, 4096) === 0) await Promise.race([reader.waitForRecords(), sleep(100)]);
    if (seq !== lastSeq) {
      lastSeq = seq;
      lastProgressMs = Date.now();
    } else if (Date.now() - lastProgressMs > 4000) {
      error = `stalled at record ${seq} of ${count}`;
    }
  }
  await sleep(20);
  if (error === null && reader.hasRecords()) reader.poll(sink, 1);
  return error;
}

/** Writes `count` records on this thread through a RingOutbox, pausing while it is blocked. */
async function produceHereWithOutbox(
  shared: SharedArrayBuffer,
  count: number,
  seed: number,
  profile: SizeProfile,
  consumerDone: Promise<WorkerResult>,
): Promise<number> {
  const writer = new RingWriter(shared);
  let onUnblocked: (() => void) | null = null;
  let blockedTimes = 0;
  let hasConsumerStopped = false;
  void consumerDone.finally(() => {
    hasConsumerStopped = true;
    onUnblocked?.();
  });
  const outbox = new RingOutbox(writer, () => onUnblocked?.());
  const waitUntilUnblocked = async () => {
    while (outbox.isBlocked && !hasConsumerStopped) {
      blockedTimes++;
      outbox.flush();
      await new Promise<void>((resolve) => {
        onUnblocked = resolve;
      });
      onUnblocked = null;
    }
  };
  const nextSize = makeSizer(seed, writer.recordPayloadMaxBytes, profile);
  for (let seq = 0; seq < count; seq++) {
    const size = nextSize();
    const offset = outbox.begin(size);
    fillRecord(outbox.target, offset, seq, size);
    outbox.end(typeOf(seq), offset, offset + size);
    if (seq % 64 === 63) outbox.flush();
    if (outbox.isBlocked) await waitUntilUnblocked();
    // A consumer that stopped early (it found a bad record) reads no more: stop writing.
    if (hasConsumerStopped) break;
  }
  outbox.flush();
  await waitUntilUnblocked();
  return blockedTimes;
}

/** Sets both positions of a fresh ring, so a test can start just below 2^32. */
function startRingAt(shared: SharedArrayBuffer, position: number): void {
  // spsc-ring.ts keeps the write position in int 0 and the read position in int 16.
  const control = new Int32Array(shared, 0, 32);
  Atomics.store(control, 0, position | 0);
  Atomics.store(control, 16, position | 0);
}

describe('SPSC ring across worker threads', () => {
  it(
    'carries 2,000,000 records from a worker to this thread without loss, duplication, reordering or corruption',
    { timeout: 20_000 },
    async () => {
      const shared = allocateRing(RING_BYTES);
      const count = 2_000_000;
      const seed = 0xc0ffee;
      const producer = runWorker({ role: 'produce', shared, count, seed });
      const error = await consumeHere(shared, count, seed);
      const report = await producer.done;
      expect(error).toBeNull();
      expect(report).toMatchObject({ ok: true });
      // The producer had to wait for space: the ring really ran full, many times.
      expect(report['fullWaits']).toBeGreaterThan(10);
    },
  );

  it(
    'carries 1,000,000 records from this thread through a RingOutbox to a worker',
    { timeout: 20_000 },
    async () => {
      const shared = allocateRing(RING_BYTES);
      const count = 1_000_000;
      const seed = 0xbeef;
      // Without zero-byte records, which RingOutbox can lose (see the expected failure below).
      const consumer = runWorker({
        role: 'consume',
        shared,
        count,
        seed,
        profile: 'mixed-nonempty',
      });
      const blockedTimes = await produceHereWithOutbox(
        shared,
        count,
        seed,
        'mixed-nonempty',
        consumer.done,
      );
      const report = await consumer.done;
      expect(report).toEqual({ ok: true, count });
      expect(blockedTimes).toBeGreaterThan(0);
    },
  );

  it(
    'survives every distance to the wrap point on the smallest ring, worker to here',
    { timeout: 20_000 },
    async () => {
      // 4096 bytes: one record carries at most 1020, so records of up to 9 times that (more than the
      // whole ring) go as fragments, and the mix of sizes puts the wrap at every 4-byte distance.
      const count = 100_000;
      const shared = allocateRing(4096);
      const producer = runWorker({ role: 'produce', shared, count, seed: 11, profile: 'edges' });
      expect(await consumeHere(shared, count, 11, 'edges')).toBeNull();
      expect(await producer.done).toMatchObject({ ok: true });
    },
  );

  it(
    'survives every distance to the wrap point on the smallest ring, here through RingOutbox to a worker',
    { timeout: 20_000 },
    async () => {
      const count = 100_000;
      const shared = allocateRing(4096);
      const consumer = runWorker({
        role: 'consume',
        shared,
        count,
        seed: 12,
        profile: 'edges-nonempty',
      });
      await produceHereWithOutbox(shared, count, 12, 'edges-nonempty', consumer.done);
      expect(await consumer.done).toEqual({ ok: true, count });
    },
  );

  // Regression test. The bug was: RingWriter.writeFragments returns the new start, which for an empty record is the same
  // whether it went in or not, so RingOutbox.drainBacklog takes "ring full" for "written" and
  // drops a zero-byte record staged while the ring was full (then reports itself unblocked).
  it(
    'RingOutbox keeps a zero-byte record that arrives while the ring is full',
    { timeout: 10_000 },
    async () => {
      const shared = allocateRing(4096);
      const writer = new RingWriter(shared);
      const outbox = new RingOutbox(writer, () => undefined);
      let seq = 0;
      while (writer.usedBytes() < writer.capacityBytes) {
        const offset = outbox.begin(60);
        fillRecord(outbox.target, offset, seq, 60);
        outbox.end(typeOf(seq), offset, offset + 60);
        seq++;
      }
      const zeroSeq = seq++;
      const offset = outbox.begin(0);
      outbox.end(typeOf(zeroSeq), offset, offset);
      outbox.flush();
      const reader = new RingReader(shared);
      const types: number[] = [];
      const deadline = Date.now() + 300;
      while (types.length < seq && Date.now() < deadline) {
        if (reader.poll({ onRecord: (type) => void types.push(type) }, 1000) === 0) await sleep(5);
      }
      expect(types.length).toBe(seq);
      expect(types[zeroSeq]).toBe(typeOf(zeroSeq));
    },
  );

  it('keeps working when the positions cross 2^32', { timeout: 20_000 }, async () => {
    const shared = allocateRing(RING_BYTES);
    // A few hundred KiB below the wrap; 200,000 records carry several MiB, well past it.
    startRingAt(shared, 2 ** 32 - 300 * 1024 - 12);
    const count = 200_000;
    const seed = 0x5eed;
    const producer = runWorker({ role: 'produce', shared, count, seed });
    const error = await consumeHere(shared, count, seed);
    expect(error).toBeNull();
    expect(await producer.done).toMatchObject({ ok: true });
    const control = new Int32Array(shared, 0, 32);
    const endPosition = Atomics.load(control, 0) >>> 0;
    expect(endPosition).toBeLessThan(2 ** 31);
    expect(Atomics.load(control, 16) >>> 0).toBe(endPosition);
  });

  it(
    'wakes a reader sleeping on waitForRecords when a worker writes after a pause',
    { timeout: 10_000 },
    async () => {
      const shared = allocateRing(RING_BYTES);
      const reader = new RingReader(shared);
      let wokeAtMs = 0;
      const woken = reader.waitForRecords().then(() => {
        wokeAtMs = Date.now();
      });
      const writer = runWorker({ role: 'writeAfterPause', shared, pauseMs: 300 });
      await sleep(150);
      expect(wokeAtMs).toBe(0);
      const report = await writer.done;
      await Promise.race([woken, sleep(2000)]);
      expect(wokeAtMs, 'the reader never woke').toBeGreaterThan(0);
      expect(wokeAtMs).toBeGreaterThanOrEqual(report['wroteAtMs'] as number);
      expect(wokeAtMs - (report['wroteAtMs'] as number)).toBeLessThan(500);
      let checked: string | null = 'no record';
      expect(
        reader.poll(
          {
            onRecord: (type, bytes, start, end) =>
              (checked = checkRecord(7, typeOf(7), 8, type, bytes, start, end)),
          },
          10,
        ),
      ).toBe(1);
      expect(checked).toBeNull();
    },
  );

  it(
    'wakes a worker sleeping on waitForRecords when this thread writes after a pause',
    { timeout: 10_000 },
    async () => {
      const shared = allocateRing(RING_BYTES);
      const sleeper = runWorker({ role: 'readAfterWait', shared });
      await sleep(300);
      const writer = new RingWriter(shared);
      const offset = writer.reserve(8);
      fillRecord(writer.bytes, offset, 7, 8);
      const wroteAtMs = Date.now();
      writer.commit(typeOf(7), 8);
      writer.wakeReader();
      const report = await sleeper.done;
      expect(report).toMatchObject({ ok: true });
      expect(report['wokeAtMs'] as number).toBeGreaterThanOrEqual(wroteAtMs);
      expect((report['wokeAtMs'] as number) - wroteAtMs).toBeLessThan(500);
    },
  );

  it(
    'wakes a writer waiting for space when a worker drains the ring after a pause',
    { timeout: 10_000 },
    async () => {
      const shared = allocateRing(RING_BYTES);
      const writer = new RingWriter(shared);
      let written = 0;
      for (;;) {
        const offset = writer.reserve(100);
        if (offset < 0) break;
        fillRecord(writer.bytes, offset, written, 100);
        writer.commit(typeOf(written), 100);
        written++;
      }
      expect(written).toBeGreaterThan(500);
      let spaceAtMs = 0;
      const space = writer.waitForSpace().then(() => {
        spaceAtMs = Date.now();
      });
      const drainer = runWorker({ role: 'drainAfterPause', shared, pauseMs: 300 });
      await sleep(150);
      expect(spaceAtMs).toBe(0);
      const report = await drainer.done;
      await Promise.race([space, sleep(2000)]);
      expect(report['records']).toBe(written);
      expect(spaceAtMs, 'the writer never woke').toBeGreaterThan(0);
      expect(spaceAtMs - (report['drainedAtMs'] as number)).toBeLessThan(500);
      expect(writer.reserve(100)).toBeGreaterThanOrEqual(0);
    },
  );
});
