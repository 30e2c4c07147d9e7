// End-to-end: queue expiry (x-expires). A queue unused for that long (no consumers, no
// basic.get, no redeclare) is deleted with its messages; a consumer keeps it, and each use
// starts the period again. Run with WARREN_E2E_EXTERNAL_PORT to check against RabbitMQ.

import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS, sleep } from '../helpers/broker.js';
import {
  type AmqplibConnection,
  amqplibChannel,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

async function queueExists(connection: AmqplibConnection, queue: string): Promise<boolean> {
  const channel = await amqplibChannel(connection);
  try {
    await channel.checkQueue(queue);
    await channel.close();
    return true;
  } catch (error) {
    if (replyCodeOf(error) === 404) return false;
    throw error;
  }
}

describe.each(SHARD_COUNTS)('queue expiry (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'deletes a queue left unused for x-expires, with its messages',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const queue = uniqueName('exp.q');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-expires': 200 } });
      channel.sendToQueue(queue, Buffer.from('x'));
      await sleep(100);
      expect(await queueExists(connection, queue)).toBe(true);
      await sleep(300);
      expect(await queueExists(connection, queue)).toBe(false);
    },
    T,
  );

  it(
    'keeps a queue while it has a consumer and expires it after the last one leaves',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const queue = uniqueName('exp.consumed');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-expires': 200 } });
      const { consumerTag } = await channel.consume(queue, () => undefined);
      await sleep(400);
      expect(await queueExists(connection, queue)).toBe(true);
      await channel.cancel(consumerTag);
      await sleep(100);
      expect(await queueExists(connection, queue)).toBe(true);
      await sleep(300);
      expect(await queueExists(connection, queue)).toBe(false);
    },
    T,
  );

  it(
    'starts the period again on basic.get and on redeclare',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const queue = uniqueName('exp.used');
      const args = { 'x-expires': 300 };
      await channel.assertQueue(queue, { durable: false, arguments: args });
      await sleep(200);
      await channel.get(queue);
      await sleep(200);
      await channel.assertQueue(queue, { durable: false, arguments: args });
      await sleep(200);
      expect(await queueExists(connection, queue)).toBe(true);
      await sleep(400);
      expect(await queueExists(connection, queue)).toBe(false);
    },
    T,
  );

  it(
    'refuses x-expires 0 and non-integers as RabbitMQ',
    async () => {
      const connection = await clients.amqplib();
      const queue = uniqueName('exp.bad');
      let channel = await amqplibChannel(connection);
      let error = await rejectionOf(channel.assertQueue(queue, { arguments: { 'x-expires': 0 } }));
      expect(error.message).toContain(
        `PRECONDITION_FAILED - invalid arg 'x-expires' for queue '${queue}' in vhost '/': {value_zero,0}`,
      );
      channel = await amqplibChannel(connection);
      error = await rejectionOf(channel.assertQueue(queue, { arguments: { 'x-expires': 'soon' } }));
      expect(replyCodeOf(error)).toBe(406);
    },
    T,
  );
});
