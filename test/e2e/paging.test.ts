// Deep queues beyond the memory budget: bodies of persistent messages are read back from the
// log when delivered, compaction rewrites mostly dead segments, and all of it survives a
// restart with every message intact and in order.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, temporaryDataDir, type TestBroker } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';
import { eventually } from '../helpers/poll.js';

const SMALL = {
  queueMemoryBytes: 64 * 1024,
  segmentBytesMax: 128 * 1024,
  compactionMinBytes: 0,
};

function bodyOf(i: number): Buffer {
  // 1 KiB, different for every message, so a mix-up shows.
  return Buffer.from(`message ${i} `.padEnd(1024, String.fromCharCode(97 + (i % 26))));
}

describe('queues deeper than the memory budget', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'delivers paged-out bodies intact, compacts, and keeps the rest across a restart',
    { timeout: 60_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 1, dataDir, ...SMALL });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      await channel.assertQueue('paging.deep', { durable: true });
      await channel.assertQueue('paging.kept', { durable: true });
      const total = 1500;
      for (let i = 0; i < total; i++) {
        channel.sendToQueue('paging.deep', bodyOf(i), { persistent: true });
        // A few long-lived messages pin the oldest segments, so compaction has work.
        if (i % 100 === 0) channel.sendToQueue('paging.kept', bodyOf(i), { persistent: true });
      }
      await channel.waitForConfirms();
      // Let the sync that follows page bodies out, then consume most of the deep queue.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await channel.prefetch(200);
      const seen: number[] = [];
      await new Promise<void>((resolve) => {
        void channel.consume('paging.deep', (message) => {
          // Deliveries past the 1200th stay unacked and go back to the queue with the channel.
          if (message === null || seen.length === 1200) return;
          const i = seen.length;
          expect(message.content.equals(bodyOf(i)), `body of message ${i}`).toBe(true);
          seen.push(i);
          channel.ack(message);
          if (seen.length === 1200) resolve();
        });
      });
      await channel.close();
      channel = await connection.createConfirmChannel();
      // Publishing more rolls segments and lets compaction move the survivors.
      for (let i = 0; i < 600; i++)
        channel.sendToQueue('paging.deep', bodyOf(total + i), { persistent: true });
      await channel.waitForConfirms();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await connection.close();
      await broker.close();

      broker = await startTestBroker({ shardCount: 1, dataDir, ...SMALL });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      const rest: number[] = [];
      for (;;) {
        const message = await channel.get('paging.deep', { noAck: true });
        if (message === false) break;
        const i = 1200 + rest.length;

        expect(message.content.equals(bodyOf(i)), `body of message ${i} after restart`).toBe(true);
        rest.push(i);
      }
      expect(rest.length).toBe(total + 600 - 1200);
      const kept: number[] = [];
      for (;;) {
        const message = await channel.get('paging.kept', { noAck: true });
        if (message === false) break;
        kept.push(Number(message.content.toString().split(' ')[1]));
      }
      expect(kept).toEqual(Array.from({ length: 15 }, (_, k) => k * 100));
      await connection.close();
    },
  );

  // A flood of transient messages with no consumer: past the memory budget their bodies go to the
  // log too (RabbitMQ's v2 classic queues do the same), come back intact when consumed, free
  // their log space once consumed, and are not recovered after a restart.
  it(
    'pages transient bodies out, delivers them intact, and does not recover them',
    { timeout: 60_000 },
    async () => {
      const budgetBytes = 256 * 1024;
      const PAGING = {
        queueMemoryBytes: budgetBytes,
        segmentBytesMax: 128 * 1024,
        compactionMinBytes: 0,
      };
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 1, dataDir, ...PAGING });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      // A durable queue with transient messages, and a persistent message in a transient queue:
      // neither is logged for durability, both may be paged.
      await channel.assertQueue('paging.transient', { durable: true });
      await channel.assertQueue('paging.nondurable', { durable: false });
      const total = 3000;
      for (let i = 0; i < total; i++) {
        channel.sendToQueue('paging.transient', bodyOf(i), { persistent: false });
        if (i % 10 === 0) channel.sendToQueue('paging.nondurable', bodyOf(i), { persistent: true });
      }
      await channel.waitForConfirms();
      const running = broker;
      await eventually(async () => {
        const [shard] = await running.broker.shardStats();
        return shard!.bodyBytesInMemory <= budgetBytes;
      }, 'queued bodies back under the memory budget');
      const [paged] = await broker.broker.shardStats();
      // About 3.3 MiB of bodies were published; most of them now live only in the log.
      expect(paged!.log!.totalBytes).toBeGreaterThan(2 * 1024 * 1024);

      await channel.prefetch(100);
      let received = 0;
      let consumerTag = '';
      await new Promise<void>((resolve) => {
        void channel
          .consume('paging.transient', (message) => {
            if (message === null) return;
            expect(message.content.equals(bodyOf(received)), `body of message ${received}`).toBe(
              true,
            );
            received++;
            channel.ack(message);
            if (received === total) resolve();
          })
          .then((ok) => (consumerTag = ok.consumerTag));
      });
      await channel.cancel(consumerTag);
      // More paged publishing rolls segments; compaction moves the paged copies that pin them.
      for (let i = 0; i < 1000; i++) channel.sendToQueue('paging.transient', bodyOf(i));
      await channel.waitForConfirms();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const nondurable: number[] = [];
      for (;;) {
        const message = await channel.get('paging.nondurable', { noAck: true });
        if (message === false) break;
        expect(message.content.equals(bodyOf(nondurable.length * 10))).toBe(true);
        nondurable.push(nondurable.length);
      }
      expect(nondurable.length).toBe(total / 10);
      expect((await running.broker.shardStats())[0]!.bodyBytesInMemory).toBeLessThanOrEqual(
        budgetBytes,
      );

      // Paged transient messages are not recovered.
      await connection.close();
      await broker.close();
      broker = await startTestBroker({ shardCount: 1, dataDir, ...PAGING });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      const { messageCount } = await channel.checkQueue('paging.transient');
      expect(messageCount).toBe(0);
      await connection.close();
    },
  );
});

// Regression: draining a deep, paged-out queue used to stall for good (a lost ring wake-up).
// It showed only with the client in another process, so the broker runs as its own process.
describe('draining a paged-out queue from another process', () => {
  let broker: BrokerProcess | null = null;
  let dataDir = '';
  afterEach(async () => {
    if (broker !== null) await stopBroker(broker, 'SIGTERM');
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('drains 200,000 messages without stalling', { timeout: 30_000 }, async () => {
    dataDir = temporaryDataDir();
    broker = await spawnBroker(dataDir, [
      '--shards',
      '1',
      '--queue-memory-bytes',
      String(4 * 1024 * 1024),
    ]);
    const connection = await amqp.connect(broker.url);
    const publisher = await connection.createConfirmChannel();
    await publisher.assertQueue('paging.drain', { durable: true });
    const total = 200_000;
    const body = Buffer.alloc(100, 7);
    for (let i = 0; i < total; i++) {
      if (!publisher.sendToQueue('paging.drain', body, { persistent: true })) {
        await new Promise((resolve) => publisher.once('drain', resolve));
      }
    }
    await publisher.waitForConfirms();
    const consumerConnection = await amqp.connect(broker.url);
    const consumer = await consumerConnection.createChannel();
    await consumer.prefetch(2000);
    let received = 0;
    await new Promise<void>((resolve) => {
      void consumer.consume('paging.drain', (message) => {
        if (message === null) return;
        received++;
        if (received % 100 === 0) consumer.ack(message, true);
        if (received === total) resolve();
      });
    });
    expect(received).toBe(total);
    await consumerConnection.close();
    await connection.close();
  });
});
