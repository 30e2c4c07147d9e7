// End-to-end: channels. Many channels share one connection independently; a channel error
// (soft code) closes only that channel, and the connection and its other channels, consumers
// included, carry on. Reference: docs/rabbitmq-behaviour.md sections 1.1, 1.2 and 3.

import { describe, expect, it } from 'vitest';
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import type { ConsumeMessage } from 'amqplib';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  amqplibChannel,
  Inbox,
  nextEvent,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';
import { decodeClose, Encoder } from '../helpers/wire.js';

const T = TEST_TIMEOUT_MS;

describe.each(SHARD_COUNTS)('channels (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'amqplib: 40 channels on one connection each keep their own queue and messages',
    async () => {
      const connection = await clients.amqplib();
      const channels = await Promise.all(
        Array.from({ length: 40 }, () => amqplibChannel(connection)),
      );
      const queues = await Promise.all(
        channels.map((channel) => channel.assertQueue('', { exclusive: true })),
      );
      channels.forEach((channel, i) => channel.sendToQueue(queues[i]!.queue, Buffer.from(`m${i}`)));
      const bodies = await Promise.all(
        channels.map(async (channel, i) => {
          for (;;) {
            const message = await channel.get(queues[i]!.queue, { noAck: true });
            if (message !== false) return message.content.toString();
          }
        }),
      );
      expect(bodies).toEqual(channels.map((_, i) => `m${i}`));
    },
    T,
  );

  it(
    'amqp-client: 40 channels on one connection each keep their own queue and messages',
    async () => {
      const client = await clients.cloud();
      const channels = await Promise.all(Array.from({ length: 40 }, () => client.channel()));
      expect(new Set(channels.map((channel) => channel.id)).size).toBe(40);
      const queues = await Promise.all(
        channels.map((channel) => channel.queueDeclare('', { exclusive: true })),
      );
      await Promise.all(
        channels.map((channel, i) => channel.basicPublish('', queues[i]!.name, `m${i}`)),
      );
      const bodies = await Promise.all(
        channels.map(async (channel, i) => {
          for (;;) {
            const message = await channel.basicGet(queues[i]!.name, { noAck: true });
            if (message !== null) return message.bodyToString();
          }
        }),
      );
      expect(bodies).toEqual(channels.map((_, i) => `m${i}`));
    },
    T,
  );

  it(
    'amqplib: a channel error closes only that channel; other channels, their consumers and the connection go on',
    async () => {
      const connection = await clients.amqplib();
      const healthy = await amqplibChannel(connection);
      const doomed = await amqplibChannel(connection);
      const { queue } = await healthy.assertQueue('', { exclusive: true });
      const inbox = new Inbox<ConsumeMessage>();
      await healthy.consume(queue, (message) => message !== null && inbox.push(message), {
        noAck: true,
      });

      const closed = nextEvent(doomed, 'close');
      const error = await rejectionOf(doomed.checkQueue(uniqueName('missing')));
      expect(replyCodeOf(error)).toBe(404);
      await closed;

      healthy.sendToQueue(queue, Buffer.from('still here'));
      const [message] = await inbox.waitFor(1);
      expect(message!.content.toString()).toBe('still here');
      // A new channel on the same connection works too.
      const fresh = await amqplibChannel(connection);
      await fresh.checkQueue(queue);
      expect(clients.connectionErrors.get(connection)).toEqual([]);
    },
    T,
  );

  it(
    'amqp-client: a channel error closes only that channel and its number can be opened again',
    async () => {
      const client = await clients.cloud();
      const healthy = await client.channel();
      const doomed = await client.channel();
      const doomedId = doomed.id;
      const queue = await healthy.queueDeclare('', { exclusive: true });
      const inbox = new Inbox<AMQPMessage>();
      await healthy.basicConsume(queue.name, { noAck: true }, (message) => inbox.push(message));

      const error = await rejectionOf(
        doomed.exchangeDeclare(uniqueName('missing'), 'direct', { passive: true }),
      );
      expect(replyCodeOf(error)).toBe(404);
      expect(doomed.closed).toBe(true);

      await healthy.basicPublish('', queue.name, 'still here');
      const [message] = await inbox.waitFor(1);
      expect(message!.bodyToString()).toBe('still here');

      const reopened = await client.channel(doomedId);
      expect(reopened.id).toBe(doomedId);
      const again = await reopened.queueDeclare(queue.name, { passive: true });
      expect(again.name).toBe(queue.name);
    },
    T,
  );

  it(
    'after the server closes a channel it ignores further methods on it until close-ok (raw)',
    async () => {
      const raw = await clients.raw();
      await raw.handshake();
      await raw.openChannel(1);
      await raw.openChannel(2);
      // queue.declare passive of a missing queue: 404 on channel 1.
      raw.sendRawMethod(
        1,
        50,
        10,
        new Encoder()
          .u16(0)
          .shortstr(uniqueName('missing'))
          .u8(1)
          .table(Buffer.alloc(0))
          .toBuffer(),
      );
      const close = decodeClose(await raw.expectMethodFrame(1, 20, 40));
      expect(close.replyCode).toBe(404);
      expect(close.classId).toBe(50);
      expect(close.methodId).toBe(10);
      // Methods before close-ok are dropped silently, not answered and not an error.
      raw.sendRawMethod(
        1,
        50,
        10,
        new Encoder().u16(0).shortstr('').u8(0).table(Buffer.alloc(0)).toBuffer(),
      );
      raw.sendRawMethod(1, 20, 41);
      // Channel 2 still answers, and channel 1 can be opened afresh.
      const name = await raw.declareQueue(2, '', { exclusive: true });
      expect(name).toMatch(/^amq\.gen-/);
      await raw.openChannel(1);
      await raw.close();
    },
    T,
  );

  it(
    'opening more channels than the negotiated channel_max closes the connection with 530 (raw)',
    async () => {
      const raw = await clients.raw();
      await raw.handshake({ channelMax: 2 });
      await raw.openChannel(1);
      // RabbitMQ limits how many are open, not their numbers.
      await raw.openChannel(7);
      raw.sendRawMethod(3, 20, 10, new Encoder().shortstr('').toBuffer());
      const close = decodeClose(await raw.expectMethodFrame(0, 10, 50));
      expect(close.replyCode).toBe(530);
      expect(close.replyText).toBe(
        'NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)',
      );
    },
    T,
  );

  it(
    'channel.flow active=true is answered with flow-ok; active=false is 540 and closes the connection (amqp-client)',
    async () => {
      const client = await clients.cloud();
      const channel = await client.channel();
      expect(await channel.basicFlow(true)).toBe(true);
      const error = await rejectionOf(channel.basicFlow(false));
      expect(replyCodeOf(error)).toBe(540);
      expect(error.message).toContain('NOT_IMPLEMENTED - active=false');
      expect(client.closed).toBe(true);
    },
    T,
  );

  it(
    'a client channel.close on one channel leaves the others working (amqplib)',
    async () => {
      const connection = await clients.amqplib();
      const first = await amqplibChannel(connection);
      const second = await amqplibChannel(connection);
      const { queue } = await first.assertQueue('', { exclusive: true });
      await first.close();
      second.sendToQueue(queue, Buffer.from('x'));
      const declared = await second.checkQueue(queue);
      expect(declared.queue).toBe(queue);
    },
    T,
  );
});
