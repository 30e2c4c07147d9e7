// End-to-end: publisher confirms. Every publish after confirm.select is acked exactly once,
// sequence numbers start at 1, many publishes produce multiple=true acks, unroutable messages
// are confirmed (after their basic.return when mandatory), fanout across queues on several shards
// is confirmed once all of them have it, and tx and confirm modes exclude each other (406).
// Reference: docs/rabbitmq-behaviour.md section 8.

import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  type AmqplibConfirmChannel,
  amqplibChannel,
  amqplibConfirmChannel,
  amqplibTx,
  namesAcrossShards,
  rejectionOf,
  replyCodeOf,
  shardOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

interface AckEvent {
  deliveryTag: number;
  multiple: boolean;
}

/** Records the channel's server acks (and returns, as a marker) in arrival order. */
function recordConfirms(channel: AmqplibConfirmChannel): {
  events: (AckEvent | 'return' | 'nack')[];
  acks: AckEvent[];
} {
  const events: (AckEvent | 'return' | 'nack')[] = [];
  const acks: AckEvent[] = [];
  channel.on('ack', (fields: AckEvent) => {
    events.push({ deliveryTag: fields.deliveryTag, multiple: fields.multiple });
    acks.push({ deliveryTag: fields.deliveryTag, multiple: fields.multiple });
  });
  channel.on('nack', () => events.push('nack'));
  channel.on('return', () => events.push('return'));
  return { events, acks };
}

/**
 * The sequence numbers a list of acks covers: a multiple ack covers every not yet confirmed
 * number up to its tag. Throws when a single ack confirms a number a second time.
 */
function coveredTags(acks: AckEvent[]): number[] {
  const covered = new Set<number>();
  let lowestOpen = 1;
  for (const ack of acks) {
    if (ack.multiple) {
      for (let tag = lowestOpen; tag <= ack.deliveryTag; tag++) covered.add(tag);
    } else {
      if (covered.has(ack.deliveryTag))
        throw new Error(`sequence number ${ack.deliveryTag} confirmed twice`);
      covered.add(ack.deliveryTag);
    }
    while (covered.has(lowestOpen)) lowestOpen++;
  }
  return [...covered].sort((a, b) => a - b);
}

describe.each(SHARD_COUNTS)('confirms (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'amqplib: every publish after confirm.select is acked once, sequence numbers from 1',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const { acks } = recordConfirms(channel);
      const { queue } = await channel.assertQueue('', { exclusive: true });
      const callbacks: (Error | null)[] = [];
      for (let i = 0; i < 50; i++) {
        channel.sendToQueue(queue, Buffer.from(String(i)), {}, (error: Error | null) =>
          callbacks.push(error),
        );
      }
      await channel.waitForConfirms();
      expect(callbacks).toEqual(Array.from({ length: 50 }, () => null));
      expect(coveredTags(acks)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect((await channel.checkQueue(queue)).messageCount).toBe(50);
    },
    T,
  );

  it(
    'amqp-client: each publish resolves with its sequence number once acked',
    async () => {
      const client = await clients.cloud();
      const channel = await client.channel();
      await channel.confirmSelect();
      await channel.confirmSelect();
      const queue = await channel.queueDeclare('', { exclusive: true });
      const tags = await Promise.all(
        Array.from({ length: 100 }, (_, i) => channel.basicPublish('', queue.name, String(i))),
      );
      expect(tags).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect((await channel.queueDeclare(queue.name, { passive: true })).messageCount).toBe(100);
    },
    T,
  );

  it(
    'many quick publishes are confirmed with multiple=true acks, each sequence number exactly once',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const { acks } = recordConfirms(channel);
      const { queue } = await channel.assertQueue('', { exclusive: true });
      const count = 5000;
      const body = Buffer.alloc(64, 0x61);
      for (let i = 0; i < count; i++) channel.sendToQueue(queue, body);
      await channel.waitForConfirms();
      expect(acks.some((ack) => ack.multiple)).toBe(true);
      expect(acks.length).toBeLessThan(count);
      expect(coveredTags(acks)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    },
    T,
  );

  it(
    'unroutable messages are confirmed; a mandatory one is returned before its ack',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const { events, acks } = recordConfirms(channel);
      const exchange = uniqueName('x.unroutable');
      await channel.assertExchange(exchange, 'topic', { durable: false });
      channel.publish(exchange, 'nobody.listens', Buffer.from('plain'));
      await channel.waitForConfirms();
      channel.publish(exchange, 'nobody.listens', Buffer.from('mandatory'), { mandatory: true });
      await channel.waitForConfirms();
      expect(coveredTags(acks)).toEqual([1, 2]);
      expect(
        events.map((event) => (typeof event === 'string' ? event : event.deliveryTag)),
      ).toEqual([1, 'return', 2]);

      const client = await clients.cloud();
      const cloudChannel = await client.channel();
      await cloudChannel.confirmSelect();
      expect(await cloudChannel.basicPublish(exchange, 'nowhere', 'x')).toBe(1);
      expect(await cloudChannel.basicPublish(exchange, 'nowhere', 'y', {}, true)).toBe(2);
    },
    T,
  );

  it(
    'fanout to queues on different shards: each publish is confirmed once every queue has it',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      const { acks } = recordConfirms(channel);
      const exchange = uniqueName('x.fanout.shards');
      await channel.assertExchange(exchange, 'fanout', { durable: false });
      const names = namesAcrossShards(broker(), 'q.confirm.fanout', 6);
      const shards = new Set(names.map((name) => shardOf(broker(), name)));
      if (shardCount > 1 && !shards.has(undefined)) expect(shards.size).toBe(shardCount);
      for (const name of names) {
        await channel.assertQueue(name, { exclusive: true });
        await channel.bindQueue(name, exchange, '');
      }
      const count = 300;
      for (let i = 0; i < count; i++) {
        channel.publish(exchange, '', Buffer.from(String(i)), {
          deliveryMode: i % 2 === 0 ? 2 : 1,
        });
        // Interleave unroutable publishes: their confirms must not overtake or skip anything.
        if (i % 50 === 0) channel.publish('amq.direct', uniqueName('nowhere'), Buffer.from('lost'));
      }
      await channel.waitForConfirms();
      expect(coveredTags(acks)).toEqual(Array.from({ length: count + 6 }, (_, i) => i + 1));
      for (const name of names)
        expect((await channel.checkQueue(name)).messageCount, name).toBe(count);

      const client = await clients.cloud();
      const cloudChannel = await client.channel();
      await cloudChannel.confirmSelect();
      const confirmed = await Promise.all(
        Array.from({ length: 50 }, () => cloudChannel.basicPublish(exchange, '', 'c')),
      );
      expect(confirmed).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      for (const name of names)
        expect((await channel.checkQueue(name)).messageCount, name).toBe(count + 50);
    },
    T,
  );

  it(
    'confirm.select on a transactional channel is 406 (85/10), and tx.select on a confirm channel is 406 (90/10)',
    async () => {
      const connection = await clients.amqplib();
      const txChannel = await amqplibChannel(connection);
      await amqplibTx.select(txChannel);
      const error = (await rejectionOf(amqplibTx.confirmSelect(txChannel))) as Error & {
        classId?: number;
        methodId?: number;
      };
      expect(replyCodeOf(error)).toBe(406);
      expect(error.message).toContain(
        'PRECONDITION_FAILED - cannot switch from tx to confirm mode',
      );
      expect([error.classId, error.methodId]).toEqual([85, 10]);

      const confirmChannel = await amqplibConfirmChannel(connection);
      const reverse = (await rejectionOf(amqplibTx.select(confirmChannel))) as Error & {
        classId?: number;
        methodId?: number;
      };
      expect(replyCodeOf(reverse)).toBe(406);
      expect(reverse.message).toContain(
        'PRECONDITION_FAILED - cannot switch from confirm to tx mode',
      );
      expect([reverse.classId, reverse.methodId]).toEqual([90, 10]);

      const client = await clients.cloud();
      const cloudTx = await client.channel();
      await cloudTx.txSelect();
      expect(replyCodeOf(await rejectionOf(cloudTx.confirmSelect()))).toBe(406);
      const cloudConfirm = await client.channel();
      await cloudConfirm.confirmSelect();
      expect(replyCodeOf(await rejectionOf(cloudConfirm.txSelect()))).toBe(406);
    },
    T,
  );
});
