// Wake-ups when the writer wakes late, as a shard does: it commits records during a batch
// (visible at once) and wakes the network thread only at the end of it, so the reader often
// consumes records, goes to sleep, and is then woken for records it already has. A consumer with
// the network thread's drain-then-sleep loop must keep up without ever sleeping on waiting
// records. (A lost wake of this kind stalled deep-queue drains through the broker until the
// sleep flags became owned by the sleeping side only; this test did not reproduce that stall on
// its own, the broker's paging drain did, so it guards the protocol rather than that exact race.)

import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocateRing, RingReader } from '../../dist/util/index.js';

const RING = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), '../../dist/util/spsc-ring.js'),
).href;
const TOTAL = 400_000;

const PRODUCER = `
import { parentPort, workerData } from 'node:worker_threads';
const { RingWriter } = await import(workerData.ring);
const writer = new RingWriter(workerData.shared);
parentPort.on('message', () => {});
let sent = 0;
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
function burst() {
  const count = 1 + Math.floor(random() * 200);
  for (let i = 0; i < count && sent < workerData.total; i++) {
    const at = writer.reserve(16);
    if (at < 0) {
      writer.wakeReader();
      writer.waitForSpace().then(burst);
      return;
    }
    writer.bytes.writeUInt32LE(sent, at);
    writer.commit(1, 16);
    sent++;
  }
  // The late wake: records are visible now, but the reader hears of them only after a pause.
  const wake = () => {
    writer.wakeReader();
    if (sent < workerData.total) burst();
    else parentPort.postMessage('done');
  };
  if (random() < 0.5) setImmediate(wake);
  else setTimeout(wake, 0);
}
burst();
`;

describe('ring wake-ups', () => {
  it(
    'never strands records when the writer wakes the reader late',
    { timeout: 60_000 },
    async () => {
      const shared = allocateRing(1 << 14);
      const reader = new RingReader(shared);
      const worker = new Worker(PRODUCER, {
        eval: true,
        workerData: { shared, ring: RING, total: TOTAL },
      });
      let received = 0;
      let isSleeping = false;
      let isScheduled = false;
      let stalledMs = 0;
      const sink = {
        onRecord(_type: number, bytes: Buffer, start: number): void {
          expect(bytes.readUInt32LE(start)).toBe(received);
          received++;
        },
      };
      const schedule = () => {
        if (isScheduled) return;
        isScheduled = true;
        setImmediate(drain);
      };
      function drain(): void {
        isScheduled = false;
        const taken = reader.poll(sink, 1024);
        if (taken === 1024 || reader.hasRecords()) return schedule();
        if (isSleeping) return;
        isSleeping = true;
        void reader.waitForRecords().then(() => {
          isSleeping = false;
          schedule();
        });
      }
      schedule();
      await new Promise<void>((resolve, reject) => {
        const watch = setInterval(() => {
          if (received === TOTAL) {
            clearInterval(watch);
            resolve();
            return;
          }
          // Records waiting while the reader sleeps, for a whole second: the wake was lost.
          stalledMs = isSleeping && reader.hasRecords() ? stalledMs + 100 : 0;
          if (stalledMs >= 1000) {
            clearInterval(watch);
            reject(new Error(`reader slept with records waiting after ${received} records`));
          }
        }, 100);
      });
      await worker.terminate();
      expect(received).toBe(TOTAL);
    },
  );
});
