// End-to-end: single active consumer (x-single-active-consumer) and consumer priorities
// (x-priority on basic.consume). With a single active consumer only the earliest registered
// consumer gets messages, and the next takes over (with the messages it left unacked) when it
// goes; with consumer priorities, lower priorities get messages only while every higher one is
// blocked by its prefetch. Run with WARREN_E2E_EXTERNAL_PORT to check against RabbitMQ.

import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS, sleep } from '../helpers/broker.js';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  Inbox,
  namesAcrossShards,
  rejectionOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

function bodies(messages: readonly ConsumeMessage[]): string[] {
  return messages.map((message) => message.content.toString());
}

describe.each(SHARD_COUNTS)('consumer selection (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'gives every message to the single active consumer, then to the next one',
    async () => {
      const connection = await clients.amqplib();
      const publisher = await amqplibConfirmChannel(connection);
      const queue = uniqueName('sac.q');
      await publisher.assertQueue(queue, {
        durable: false,
        arguments: { 'x-single-active-consumer': true },
      });
      const first = await amqplibChannel(connection);
      const second = await amqplibChannel(connection);
      const firstInbox = new Inbox<ConsumeMessage>();
      const secondInbox = new Inbox<ConsumeMessage>();
      await first.consume(queue, (message) => message !== null && firstInbox.push(message));
      await second.consume(queue, (message) => message !== null && secondInbox.push(message));
      for (let i = 1; i <= 4; i++) publisher.sendToQueue(queue, Buffer.from(`m${i}`));
      await publisher.waitForConfirms();
      await firstInbox.waitFor(4);
      expect(bodies(firstInbox.items)).toEqual(['m1', 'm2', 'm3', 'm4']);
      expect(secondInbox.length).toBe(0);
      first.ack(firstInbox.items[0]!);
      // The active consumer's channel closes with three unacked: they go to the next one.
      await first.close();
      const taken = await secondInbox.waitFor(3);
      expect(bodies(taken)).toEqual(['m2', 'm3', 'm4']);
      expect(taken.every((message) => message.fields.redelivered)).toBe(true);
      const declared = await publisher.checkQueue(queue);
      expect(declared.consumerCount).toBe(1);
    },
    T,
  );

  it(
    'lets an inactive single-active consumer hold no channel-wide prefetch credit',
    async () => {
      const connection = await clients.amqplib();
      const publisher = await amqplibConfirmChannel(connection);
      const [sacQueue, plainQueue] = namesAcrossShards(broker(), 'sac.credit', 2);
      await publisher.assertQueue(sacQueue!, {
        durable: false,
        arguments: { 'x-single-active-consumer': true },
      });
      await publisher.assertQueue(plainQueue!, { durable: false });
      const active = await amqplibChannel(connection);
      await active.prefetch(1);
      await active.consume(sacQueue!, () => undefined);
      // This channel's consumer on the single-active queue never becomes active.
      const limited = await amqplibChannel(connection);
      await limited.prefetch(1, true);
      await limited.consume(sacQueue!, () => undefined);
      const inbox = new Inbox<ConsumeMessage>();
      await limited.consume(plainQueue!, (message) => {
        if (message === null) return;
        inbox.push(message);
        limited.ack(message);
      });
      for (let i = 0; i < 5; i++) publisher.sendToQueue(sacQueue!, Buffer.from(`s${i}`));
      await publisher.waitForConfirms();
      // Time for the single-active queue's shard to ask for (and get) credit if it wrongly would.
      await sleep(100);
      for (let i = 0; i < 3; i++) publisher.sendToQueue(plainQueue!, Buffer.from(`p${i}`));
      await publisher.waitForConfirms();
      const received = await inbox.waitFor(3);
      expect(bodies(received)).toEqual(['p0', 'p1', 'p2']);
    },
    T,
  );

  it(
    'prefers consumers with a higher x-priority while they have room',
    async () => {
      const connection = await clients.amqplib();
      const publisher = await amqplibConfirmChannel(connection);
      const queue = uniqueName('cprio.q');
      await publisher.assertQueue(queue, { durable: false });
      const high = await amqplibChannel(connection);
      const low = await amqplibChannel(connection);
      await high.prefetch(2);
      const highInbox = new Inbox<ConsumeMessage>();
      const lowInbox = new Inbox<ConsumeMessage>();
      await low.consume(queue, (message) => message !== null && lowInbox.push(message), {
        noAck: true,
      });
      await high.consume(queue, (message) => message !== null && highInbox.push(message), {
        priority: 10,
      });
      for (let i = 1; i <= 5; i++) publisher.sendToQueue(queue, Buffer.from(`m${i}`));
      await publisher.waitForConfirms();
      await highInbox.waitFor(2);
      await lowInbox.waitFor(3);
      expect(bodies(highInbox.items)).toEqual(['m1', 'm2']);
      expect(bodies(lowInbox.items)).toEqual(['m3', 'm4', 'm5']);
      // Room again at the higher priority: the next message goes there.
      high.ack(highInbox.items[1]!, true);
      await sleep(50);
      publisher.sendToQueue(queue, Buffer.from('m6'));
      await publisher.waitForConfirms();
      await highInbox.waitFor(3);
      expect(bodies(highInbox.items)).toEqual(['m1', 'm2', 'm6']);
      expect(lowInbox.length).toBe(3);
    },
    T,
  );

  it(
    'refuses a non-integer x-priority and a non-boolean x-single-active-consumer with 406',
    async () => {
      const connection = await clients.amqplib();
      const queue = uniqueName('cprio.bad');
      const setup = await amqplibChannel(connection);
      await setup.assertQueue(queue, { durable: false });
      const channel = await amqplibChannel(connection);
      const error = await rejectionOf(
        channel.consume(queue, () => undefined, { arguments: { 'x-priority': 'high' } }),
      );
      expect(error.message).toContain(
        `PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${queue}' in vhost '/': "expected integer, got longstr"`,
      );
      const other = await amqplibChannel(connection);
      const sacError = await rejectionOf(
        other.assertQueue(uniqueName('sac.bad'), {
          arguments: { 'x-single-active-consumer': 'yes' },
        }),
      );
      expect(sacError.message).toContain(`invalid arg 'x-single-active-consumer'`);
    },
    T,
  );
});
