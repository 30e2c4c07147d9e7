// End-to-end: the consumer timeout (RabbitMQ's consumer_timeout, here --consumer-timeout-ms). A
// channel holding a delivery unacked for longer is closed with 406 and RabbitMQ's text, and the
// delivery goes back to its queue; acking in time keeps the channel open.

import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS, sleep } from '../helpers/broker.js';
import {
  amqplibChannel,
  EXTERNAL_PORT,
  Inbox,
  nextEvent,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;
const TIMEOUT_MS = 400;

describe.skipIf(EXTERNAL_PORT !== null).each(SHARD_COUNTS)(
  'consumer timeout (%i shards)',
  (shardCount) => {
    const broker = useBroker(shardCount, { consumerTimeoutMs: TIMEOUT_MS });
    const clients = useClients(broker);

    it(
      'closes a channel whose delivery stays unacked, and requeues the delivery',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const queue = uniqueName('timeout.q');
        await channel.assertQueue(queue, { durable: false });
        const inbox = new Inbox<ConsumeMessage>();
        await channel.consume(queue, (message) => message !== null && inbox.push(message));
        const closed = nextEvent<Error>(channel, 'error', 5000);
        channel.sendToQueue(queue, Buffer.from('slow'));
        await inbox.waitFor(1);
        const error = await closed;
        expect(replyCodeOf(error)).toBe(406);
        expect(error.message).toContain(
          `PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: ${TIMEOUT_MS} ms. This timeout value can be configured, see consumers doc guide to learn more`,
        );
        const other = await amqplibChannel(connection);
        const again = await other.get(queue, { noAck: true });
        expect(again !== false && again.fields.redelivered).toBe(true);
      },
      T,
    );

    it(
      'keeps a channel that acks in time',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const queue = uniqueName('timeout.ok');
        await channel.assertQueue(queue, { durable: false });
        let errors = 0;
        channel.on('error', () => errors++);
        const inbox = new Inbox<ConsumeMessage>();
        await channel.consume(queue, (message) => {
          if (message === null) return;
          inbox.push(message);
          setTimeout(() => channel.ack(message), 100);
        });
        for (let i = 0; i < 8; i++) {
          channel.sendToQueue(queue, Buffer.from(`m${i}`));
          await sleep(150);
        }
        await inbox.waitFor(8);
        await sleep(TIMEOUT_MS);
        expect(errors).toBe(0);
        expect((await channel.checkQueue(queue)).messageCount).toBe(0);
      },
      T,
    );
  },
);
