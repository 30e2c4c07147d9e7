// End-to-end: direct reply-to (amq.rabbitmq.reply-to). A requester consumes the pseudo-queue in
// no-ack mode and publishes with reply-to amq.rabbitmq.reply-to; the server sees a reply-to name
// of its own, and a reply published to it on the default exchange comes straight back. RabbitMQ's
// 406s for a missing or acking reply consumer; a reply to a channel that is gone is unroutable.
// Run with WARREN_E2E_EXTERNAL_PORT to check against RabbitMQ.

import type { ConsumeMessage, Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  amqplibTx,
  Inbox,
  nextEvent,
  rejectionOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;
const REPLY_QUEUE = 'amq.rabbitmq.reply-to';

describe.each(SHARD_COUNTS)('direct reply-to (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'carries a request and its reply without a reply queue',
    async () => {
      const serverConnection = await clients.amqplib();
      const server = await amqplibChannel(serverConnection);
      const queue = uniqueName('rpc.q');
      await server.assertQueue(queue, { durable: false });
      await server.consume(
        queue,
        (request) => {
          if (request === null) return;
          server.sendToQueue(request.properties.replyTo as string, Buffer.from('pong'), {
            correlationId: request.properties.correlationId as string,
          });
          server.ack(request);
        },
        { noAck: false },
      );
      const client = await amqplibConfirmChannel(await clients.amqplib());
      const replies = new Inbox<ConsumeMessage>();
      await client.consume(REPLY_QUEUE, (message) => message !== null && replies.push(message), {
        noAck: true,
      });
      // A reply consumer can be cancelled like any other.
      const other = await server.consume(REPLY_QUEUE, () => undefined, { noAck: true });
      await server.cancel(other.consumerTag);
      client.sendToQueue(queue, Buffer.from('ping'), {
        replyTo: REPLY_QUEUE,
        correlationId: 'c1',
      });
      await client.waitForConfirms();
      const [reply] = await replies.waitFor(1);
      expect(reply!.content.toString()).toBe('pong');
      expect(reply!.properties.correlationId).toBe('c1');
      expect(reply!.fields.exchange).toBe('');
      expect(reply!.fields.routingKey.startsWith(`${REPLY_QUEUE}.`)).toBe(true);
    },
    T,
  );

  it(
    'shows the server a reply-to name of the requester channel',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const queue = uniqueName('rpc.name');
      await channel.assertQueue(queue, { durable: false });
      await channel.consume(REPLY_QUEUE, () => undefined, { noAck: true });
      channel.sendToQueue(queue, Buffer.from('x'), { replyTo: REPLY_QUEUE });
      let message: Message | false = false;
      for (let i = 0; i < 100 && message === false; i++) {
        message = await channel.get(queue, { noAck: true });
      }
      const replyTo = (message as Message).properties.replyTo as string;
      expect(replyTo.startsWith(`${REPLY_QUEUE}.`)).toBe(true);
      expect(replyTo.length).toBeGreaterThan(REPLY_QUEUE.length + 1);
    },
    T,
  );

  it(
    'refuses a reply-to without a reply consumer, and an acking reply consumer, with 406',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const closed = nextEvent<Error>(channel, 'error');
      channel.sendToQueue(uniqueName('rpc.none'), Buffer.from('x'), { replyTo: REPLY_QUEUE });
      const error = await closed;
      expect(error.message).toContain('PRECONDITION_FAILED - fast reply consumer does not exist');
      const acking = await amqplibChannel(connection);
      const refused = await rejectionOf(
        acking.consume(REPLY_QUEUE, () => undefined, { noAck: false }),
      );
      expect(refused.message).toContain('PRECONDITION_FAILED - reply consumer cannot acknowledge');
    },
    T,
  );

  it(
    'returns a mandatory reply whose requester is gone',
    async () => {
      const connection = await clients.amqplib();
      const requester = await amqplibChannel(connection);
      const queue = uniqueName('rpc.gone');
      await requester.assertQueue(queue, { durable: false });
      await requester.consume(REPLY_QUEUE, () => undefined, { noAck: true });
      requester.sendToQueue(queue, Buffer.from('x'), { replyTo: REPLY_QUEUE });
      const server = await amqplibChannel(connection);
      let request: Message | false = false;
      for (let i = 0; i < 100 && request === false; i++) {
        request = await server.get(queue, { noAck: true });
      }
      await requester.close();
      const returned = nextEvent<Message>(server, 'return');
      server.sendToQueue((request as Message).properties.replyTo as string, Buffer.from('late'), {
        mandatory: true,
      });
      expect((await returned).content.toString()).toBe('late');
    },
    T,
  );

  // Regression test. The bug was: a reply published on a transactional channel reached the
  // requester at once; RabbitMQ delivers it at tx.commit, and never after a rollback.
  it(
    'a reply published in a transaction arrives at commit, not before, and not after a rollback',
    async () => {
      const requester = await amqplibChannel(await clients.amqplib());
      const replies = new Inbox<ConsumeMessage>();
      await requester.consume(REPLY_QUEUE, (message) => message !== null && replies.push(message), {
        noAck: true,
      });
      const queue = uniqueName('rpc.tx');
      await requester.assertQueue(queue, { durable: false });
      requester.sendToQueue(queue, Buffer.from('request'), { replyTo: REPLY_QUEUE });
      const server = await amqplibChannel(await clients.amqplib());
      let request: Message | false = false;
      for (let i = 0; i < 100 && request === false; i++) {
        request = await server.get(queue, { noAck: true });
      }
      expect(request).not.toBe(false);
      const replyTo = (request as Message).properties.replyTo as string;
      await amqplibTx.select(server);
      server.sendToQueue(replyTo, Buffer.from('rolled back'));
      await amqplibTx.rollback(server);
      server.sendToQueue(replyTo, Buffer.from('committed'));
      await server.checkQueue(queue);
      expect(replies.length).toBe(0);
      await amqplibTx.commit(server);
      const [reply] = await replies.waitFor(1);
      expect(reply!.content.toString()).toBe('committed');
      await server.checkQueue(queue);
      expect(replies.length).toBe(1);
    },
    T,
  );
});
