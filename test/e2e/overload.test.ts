// Overload: publishers with no consumer against a low memory watermark, with the broker as its
// own process so its RSS is its own. Persistent and transient floods both grow memory only by
// their index (bodies past --queue-memory-bytes page to the log), the memory alarm blocks the
// publishers before RSS gets far past the watermark, a consumer drains the queues, the alarm
// clears, the held publishes go in, and every confirmed message arrives.

import { readFileSync, rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const MiB = 1024 * 1024;
/** Headroom above the idle broker's RSS before the alarm. */
const HEADROOM_BYTES = 64 * MiB;
/** How far past the watermark RSS may get before publishers are held (README: resource alarms). */
const OVERSHOOT_MAX_BYTES = 48 * MiB;
const OUTSTANDING_MAX = 4000;

function rssOf(broker: BrokerProcess): number {
  const status = readFileSync(`/proc/${broker.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Publishes as fast as confirms allow until stopped; counts what was confirmed. */
function flood(channel: amqp.ConfirmChannel, queue: string, isPersistent: boolean) {
  const state = { sent: 0, confirmed: 0, isStopped: false, done: Promise.resolve() };
  const body = Buffer.alloc(64, 0x61);
  state.done = (async () => {
    let outstanding = 0;
    while (!state.isStopped) {
      if (outstanding >= OUTSTANDING_MAX) {
        await sleep(2);
        continue;
      }
      const id = state.sent++;
      outstanding++;
      const content = Buffer.from(body);
      content.writeUInt32LE(id, 0);
      channel.sendToQueue(queue, content, { persistent: isPersistent }, (error) => {
        outstanding--;
        if (error === null || error === undefined) state.confirmed++;
      });
      if (id % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return state;
}

describe('overload against a low memory watermark', () => {
  let broker: BrokerProcess | null = null;
  let dataDir = '';
  let sampler: NodeJS.Timeout | null = null;
  afterEach(async () => {
    if (sampler !== null) clearInterval(sampler);
    sampler = null;
    if (broker !== null) await stopBroker(broker);
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  // TODO(#19): on Node 22 and 24 RSS stays above the watermark after the drain (the cause is not
  // isolated: docs/node-versions.md), so the alarm never clears.
  // Runs there again once the memory alarm clears on a measure that falls when queues drain (a
  // change in src/net). On Node 20 it passes, but not always, for the same reason.
  const isRssKeptAfterDrain = Number(process.versions.node.split('.')[0]) >= 22;
  it.skipIf(isRssKeptAfterDrain)(
    'raises the alarm, keeps memory near the watermark, clears it after a drain, loses nothing',
    { timeout: 120_000 },
    async () => {
      // The idle broker's RSS on this machine, to put the watermark a fixed headroom above it.
      dataDir = temporaryDataDir();
      broker = await spawnBroker(dataDir, ['--shards', '1', '--no-mgmt']);
      await sleep(500);
      const idleRss = rssOf(broker);
      await stopBroker(broker, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });

      const watermarkBytes = idleRss + HEADROOM_BYTES;
      dataDir = temporaryDataDir();
      broker = await spawnBroker(dataDir, [
        '--shards',
        '1',
        '--no-mgmt',
        '--memory-high-watermark',
        String(watermarkBytes),
      ]);
      const running = broker;
      let peakRss = 0;
      sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(running))), 20);

      const persistentConnection = await amqp.connect(broker.url);
      const transientConnection = await amqp.connect(broker.url);
      const blocked = Promise.all(
        [persistentConnection, transientConnection].map(
          (connection) =>
            new Promise<string>((resolve) =>
              connection.once('blocked', (reason: string) => resolve(reason)),
            ),
        ),
      );
      const unblocked = Promise.all(
        [persistentConnection, transientConnection].map(
          (connection) => new Promise<void>((resolve) => connection.once('unblocked', resolve)),
        ),
      );
      const persistentChannel = await persistentConnection.createConfirmChannel();
      const transientChannel = await transientConnection.createConfirmChannel();
      await persistentChannel.assertQueue('overload.persistent', { durable: true });
      await transientChannel.assertQueue('overload.transient', { durable: false });
      const persistent = flood(persistentChannel, 'overload.persistent', true);
      const transient = flood(transientChannel, 'overload.transient', false);

      const reasons = await Promise.race([blocked, sleep(60_000).then(() => ['never blocked'])]);
      expect(reasons).toEqual(['low on memory', 'low on memory']);
      // Held: confirms stop growing once what was read before the block is settled.
      await sleep(1500);
      const confirmedWhileBlocked = persistent.confirmed + transient.confirmed;
      await sleep(1000);
      expect(persistent.confirmed + transient.confirmed).toBe(confirmedWhileBlocked);
      expect(peakRss).toBeLessThanOrEqual(watermarkBytes + OVERSHOOT_MAX_BYTES);

      // Drain both queues; the alarm clears and the held publishes go in.
      const consumerConnection = await amqp.connect(broker.url);
      const consumer = await consumerConnection.createChannel();
      await consumer.prefetch(2000);
      const received = {
        'overload.persistent': new Set<number>(),
        'overload.transient': new Set<number>(),
      };
      for (const queue of Object.keys(received) as (keyof typeof received)[]) {
        await consumer.consume(queue, (message) => {
          if (message === null) return;
          received[queue].add(message.content.readUInt32LE(0));
          consumer.ack(message);
        });
      }
      const cleared = await Promise.race([
        unblocked.then(() => true),
        sleep(60_000).then(() => false),
      ]);
      expect(cleared, 'connection.unblocked after the drain').toBe(true);
      expect(running.child.exitCode).toBeNull();
      persistent.isStopped = true;
      transient.isStopped = true;
      await Promise.all([persistent.done, transient.done]);
      await Promise.all([persistentChannel.waitForConfirms(), transientChannel.waitForConfirms()]);
      clearInterval(sampler);
      sampler = null;
      const deadline = Date.now() + 30_000;
      while (
        (received['overload.persistent'].size < persistent.confirmed ||
          received['overload.transient'].size < transient.confirmed) &&
        Date.now() < deadline
      )
        await sleep(50);
      expect(received['overload.persistent'].size).toBe(persistent.confirmed);
      expect(received['overload.transient'].size).toBe(transient.confirmed);
      console.log(
        `overload: idle ${Math.round(idleRss / MiB)} MiB, watermark ${Math.round(watermarkBytes / MiB)} MiB, peak ${Math.round(peakRss / MiB)} MiB; confirmed ${persistent.confirmed} persistent + ${transient.confirmed} transient`,
      );
      await Promise.all(
        [persistentConnection, transientConnection, consumerConnection].map((connection) =>
          connection.close(),
        ),
      );
    },
  );
});
