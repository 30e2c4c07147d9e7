// End-to-end: Warren's retry extension (x-warren-delivery-limit, x-warren-retry-delay-ms,
// x-warren-retry-backoff, x-warren-retry-delay-max-ms). A returned message waits a growing delay
// before it is delivered again and is dead-lettered (reason delivery_limit) once it has been
// delivered the allowed number of times; the count survives a restart. Not a RabbitMQ feature.

import { rmSync } from 'node:fs';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SHARD_COUNTS,
  sleep,
  startTestBroker,
  temporaryDataDir,
  type TestBroker,
} from '../helpers/broker.js';
import {
  amqplibChannel,
  EXTERNAL_PORT,
  getEventually,
  Inbox,
  rejectionOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;
type Headers = Record<string, unknown>;

describe.skipIf(EXTERNAL_PORT !== null).each(SHARD_COUNTS)(
  'retry extension (%i shards)',
  (shardCount) => {
    const broker = useBroker(shardCount);
    const clients = useClients(broker);

    it(
      'redelivers a nacked message after growing delays, then dead-letters it',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const queue = uniqueName('retry.q');
        const dead = uniqueName('retry.dead');
        await channel.assertQueue(dead, { durable: false });
        await channel.assertQueue(queue, {
          durable: false,
          arguments: {
            'x-warren-delivery-limit': 4,
            'x-warren-retry-delay-ms': 60,
            'x-warren-retry-backoff': 2,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': dead,
          },
        });
        const deliveries = new Inbox<{ atMs: number; isRedelivered: boolean }>();
        await channel.consume(queue, (message) => {
          if (message === null) return;
          deliveries.push({ atMs: Date.now(), isRedelivered: message.fields.redelivered });
          channel.nack(message, false, true);
        });
        const deadLetters = new Inbox<ConsumeMessage>();
        await channel.consume(dead, (message) => message !== null && deadLetters.push(message), {
          noAck: true,
        });
        channel.sendToQueue(queue, Buffer.from('flaky'));
        const [deadLetter] = await deadLetters.waitFor(1, 5000);
        const times = deliveries.items.map((delivery) => delivery.atMs);
        expect(times).toHaveLength(4);
        // Waits of 60, 120 and 240 ms between the four deliveries.
        expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(55);
        expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(115);
        expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(235);
        expect(deliveries.items.map((delivery) => delivery.isRedelivered)).toEqual([
          false,
          true,
          true,
          true,
        ]);
        expect(deadLetter!.content.toString()).toBe('flaky');
        const death = ((deadLetter!.properties.headers as Headers)['x-death'] as Headers[])[0];
        expect(death).toMatchObject({ count: 1, reason: 'delivery_limit', queue });
      },
      T,
    );

    it(
      'validates its arguments',
      async () => {
        const connection = await clients.amqplib();
        const queue = uniqueName('retry.bad');
        let channel = await amqplibChannel(connection);
        let error = await rejectionOf(
          channel.assertQueue(queue, { arguments: { 'x-warren-delivery-limit': 0 } }),
        );
        expect(error.message).toContain(
          `PRECONDITION_FAILED - invalid arg 'x-warren-delivery-limit' for queue '${queue}' in vhost '/': {value_zero,0}`,
        );
        channel = await amqplibChannel(connection);
        error = await rejectionOf(
          channel.assertQueue(queue, { arguments: { 'x-warren-retry-backoff': 0.5 } }),
        );
        expect(error.message).toContain(`invalid arg 'x-warren-retry-backoff'`);
      },
      T,
    );
  },
);

describe.skipIf(EXTERNAL_PORT !== null)('retry extension across a restart', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the delivery count in the log', { timeout: 30_000 }, async () => {
    dataDir = temporaryDataDir();
    broker = await startTestBroker({ shardCount: 2, dataDir });
    const args = {
      'x-warren-delivery-limit': 3,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'retryr.dead',
    };
    let connection = await amqp.connect(broker.url);
    let channel = await connection.createConfirmChannel();
    await channel.assertQueue('retryr.dead', { durable: true });
    await channel.assertQueue('retryr.q', { durable: true, arguments: args });
    channel.sendToQueue('retryr.q', Buffer.from('twice'), { persistent: true });
    await channel.waitForConfirms();
    for (let i = 0; i < 2; i++) {
      const message = await getEventually(channel, 'retryr.q', { timeoutMs: 2000 });
      channel.nack(message, false, true);
    }
    await sleep(50);
    await connection.close();
    await broker.close();

    broker = await startTestBroker({ shardCount: 2, dataDir });
    connection = await amqp.connect(broker.url);
    channel = await connection.createConfirmChannel();
    const third = await getEventually(channel, 'retryr.q', { timeoutMs: 2000 });
    expect(third.fields.redelivered).toBe(true);
    channel.nack(third, false, true);
    const dead = await getEventually(channel, 'retryr.dead', { timeoutMs: 2000 });
    expect(dead.content.toString()).toBe('twice');
    expect((await channel.checkQueue('retryr.q')).messageCount).toBe(0);
    await connection.close();
  });
});
