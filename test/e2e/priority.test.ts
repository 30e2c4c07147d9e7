// End-to-end: priority queues (x-max-priority with the priority property). Higher priorities
// first, FIFO within one priority, priorities above the maximum count as the maximum, requeued
// messages go back to their place, and the order survives a restart. Run with
// WARREN_E2E_EXTERNAL_PORT to check against RabbitMQ.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SHARD_COUNTS,
  startTestBroker,
  temporaryDataDir,
  type TestBroker,
} from '../helpers/broker.js';
import {
  type AmqplibChannel,
  amqplibChannel,
  amqplibConfirmChannel,
  EXTERNAL_PORT,
  Inbox,
  rejectionOf,
  takeAllBodies,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

const PUBLISHED: [string, number | undefined][] = [
  ['a', 1],
  ['b', 5],
  ['c', 10],
  ['d', undefined],
  ['e', 5],
  ['f', 20],
  ['g', 0],
];

function publishAll(channel: AmqplibChannel, queue: string, persistent = false): void {
  for (const [body, priority] of PUBLISHED) {
    channel.sendToQueue(
      queue,
      Buffer.from(body),
      priority === undefined ? { persistent } : { priority, persistent },
    );
  }
}

describe.each(SHARD_COUNTS)('priority queues (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'delivers higher priorities first, FIFO within one, capped at x-max-priority',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const queue = uniqueName('prio.q');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-max-priority': 10 } });
      publishAll(channel, queue);
      await channel.waitForConfirms();
      expect(await takeAllBodies(channel, queue)).toEqual(['c', 'f', 'b', 'e', 'a', 'd', 'g']);
    },
    T,
  );

  it(
    'puts a requeued message back in its place and delivers to consumers in priority order',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const queue = uniqueName('prio.requeue');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-max-priority': 10 } });
      publishAll(channel, queue);
      await channel.waitForConfirms();
      const first = await channel.get(queue);
      const second = await channel.get(queue);
      expect(first !== false && first.content.toString()).toBe('c');
      expect(second !== false && second.content.toString()).toBe('f');
      channel.nack(second as amqp.GetMessage, false, true);
      channel.nack(first as amqp.GetMessage, false, true);
      const inbox = new Inbox<amqp.ConsumeMessage>();
      await channel.consume(queue, (message) => message !== null && inbox.push(message), {
        noAck: true,
      });
      const received = await inbox.waitFor(7);
      expect(received.map((message) => message.content.toString())).toEqual([
        'c',
        'f',
        'b',
        'e',
        'a',
        'd',
        'g',
      ]);
      expect(received[0]!.fields.redelivered).toBe(true);
      expect(received[2]!.fields.redelivered).toBe(false);
    },
    T,
  );

  it(
    'validates x-max-priority as RabbitMQ',
    async () => {
      const connection = await clients.amqplib();
      const queue = uniqueName('prio.bad');
      for (const [value, reason] of [
        [256, '{max_value_exceeded,256}'],
        [-1, '{value_negative,-1}'],
        ['high', '"expected integer, got longstr"'],
      ] as const) {
        const channel = await amqplibChannel(connection);
        const error = await rejectionOf(
          channel.assertQueue(queue, { arguments: { 'x-max-priority': value } }),
        );
        expect(error.message).toContain(
          `PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${queue}' in vhost '/': ${reason}`,
        );
      }
    },
    T,
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('priority queues across a restart', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the priority order', { timeout: 30_000 }, async () => {
    dataDir = temporaryDataDir();
    broker = await startTestBroker({ shardCount: 2, dataDir, queueMemoryBytes: 0 });
    let connection = await amqp.connect(broker.url);
    let channel = await connection.createConfirmChannel();
    await channel.assertQueue('prior.q', { durable: true, arguments: { 'x-max-priority': 10 } });
    publishAll(channel, 'prior.q', true);
    await channel.waitForConfirms();
    await connection.close();
    await broker.close();

    broker = await startTestBroker({ shardCount: 2, dataDir, queueMemoryBytes: 0 });
    connection = await amqp.connect(broker.url);
    channel = await connection.createConfirmChannel();
    expect(await takeAllBodies(channel, 'prior.q')).toEqual(['c', 'f', 'b', 'e', 'a', 'd', 'g']);
    await connection.close();
  });
});
