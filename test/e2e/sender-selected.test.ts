// End-to-end: sender-selected distribution (RabbitMQ's CC and BCC headers). A publish also goes
// where each CC and BCC routing key leads on the same exchange, one copy per queue; BCC never
// reaches a consumer; a message routed only by CC counts as routed (mandatory, confirms);
// dead-lettering without a dead-letter routing key routes by CC again.

import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  getEventually,
  nextEvent,
  rejectionOf,
  replyCodeOf,
  takeAllBodies,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

describe.each(SHARD_COUNTS)('sender-selected distribution (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  /** A direct exchange with one exclusive queue bound per key; returns the queue names. */
  async function directWithQueues(
    channel: Awaited<ReturnType<typeof amqplibChannel>>,
    exchange: string,
    keys: string[],
  ): Promise<Record<string, string>> {
    await channel.assertExchange(exchange, 'direct', { autoDelete: true });
    const queues: Record<string, string> = {};
    for (const key of keys) {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, exchange, key);
      queues[key] = queue;
    }
    return queues;
  }

  it(
    'routes by the routing key, CC and BCC through one exchange; strips BCC only',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const exchange = uniqueName('ssd.direct');
      const queues = await directWithQueues(channel, exchange, ['a', 'b', 'c', 'd']);
      channel.publish(exchange, 'a', Buffer.from('hello'), {
        headers: { CC: ['b', 'a'], BCC: ['c', 'nowhere'], other: 1 },
        persistent: true,
      });
      for (const key of ['a', 'b', 'c']) {
        const message = await getEventually(channel, queues[key]!, { noAck: true });
        expect(message.content.toString()).toBe('hello');
        expect(message.fields.routingKey).toBe('a');
        expect(message.properties.headers).toEqual({ CC: ['b', 'a'], other: 1 });
        expect(message.properties.deliveryMode).toBe(2);
      }
      for (const key of ['a', 'b', 'c', 'd'])
        expect(await takeAllBodies(channel, queues[key]!)).toEqual([]);
    },
    T,
  );

  it(
    'follows CC keys through topic patterns and exchange-to-exchange bindings',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const topic = uniqueName('ssd.topic');
      const inner = uniqueName('ssd.inner');
      await channel.assertExchange(topic, 'topic', { autoDelete: true });
      await channel.assertExchange(inner, 'direct', { autoDelete: true });
      const { queue: logs } = await channel.assertQueue('', { exclusive: true });
      const { queue: audit } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(logs, topic, 'logs.#');
      await channel.bindExchange(inner, topic, 'audit.*');
      await channel.bindQueue(audit, inner, 'audit.eu');
      channel.publish(topic, 'logs.app', Buffer.from('x'), { headers: { CC: ['audit.eu'] } });
      expect((await getEventually(channel, audit, { noAck: true })).content.toString()).toBe('x');
      expect((await getEventually(channel, logs, { noAck: true })).content.toString()).toBe('x');
    },
    T,
  );

  it(
    'a mandatory publish routed only by CC is not returned, and is confirmed',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      const exchange = uniqueName('ssd.mandatory');
      const queues = await directWithQueues(channel, exchange, ['only']);
      let returned = 0;
      channel.on('return', () => returned++);
      await new Promise<void>((resolve, reject) =>
        channel.publish(
          exchange,
          'unbound',
          Buffer.from('via cc'),
          { mandatory: true, headers: { BCC: ['only'] } },
          (error) => (error === null || error === undefined ? resolve() : reject(error)),
        ),
      );
      expect(
        (await getEventually(channel, queues['only']!, { noAck: true })).properties.headers,
      ).toEqual({});
      expect(returned).toBe(0);
    },
    T,
  );

  it(
    'refuses a CC header that is not an array with RabbitMQ 406 text',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const closed = nextEvent<Error>(channel, 'close');
      const error = rejectionOf(
        (async () => {
          channel.publish('amq.direct', 'x', Buffer.from('bad'), { headers: { CC: 'b' } });
          await channel.checkQueue('amq.gen-never');
        })(),
      );
      await closed;
      const failure = await error;
      expect(replyCodeOf(failure)).toBe(406);
      expect(failure.message).toContain(
        'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}',
      );
    },
    T,
  );

  it(
    'dead-letters by the routing key and CC without a dead-letter routing key, by that key alone with one',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const dlx = uniqueName('ssd.dlx');
      const queues = await directWithQueues(channel, dlx, ['k', 'cc', 'dlrk']);
      const keepKeys = uniqueName('ssd.keep');
      const setKey = uniqueName('ssd.set');
      await channel.assertQueue(keepKeys, {
        exclusive: true,
        arguments: { 'x-dead-letter-exchange': dlx },
      });
      await channel.assertQueue(setKey, {
        exclusive: true,
        arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dlrk' },
      });
      for (const queue of [keepKeys, setKey]) {
        // The default exchange: routing key = queue name; CC 'k' names no queue there.
        channel.publish('', queue, Buffer.from(queue), { headers: { CC: ['k', 'cc'] } });
        const message = await getEventually(channel, queue);
        channel.nack(message, false, false);
      }
      const kept = await getEventually(channel, queues['k']!, { noAck: true });
      expect(kept.content.toString()).toBe(keepKeys);
      const deaths = kept.properties.headers?.['x-death'] as unknown as Record<string, unknown>[];
      const death = deaths[0];
      expect(death?.['routing-keys']).toEqual([keepKeys, 'k', 'cc']);
      expect(
        (await getEventually(channel, queues['cc']!, { noAck: true })).content.toString(),
      ).toBe(keepKeys);
      const rekeyed = await getEventually(channel, queues['dlrk']!, { noAck: true });
      expect(rekeyed.content.toString()).toBe(setKey);
      expect(rekeyed.properties.headers?.['CC']).toBeUndefined();
      for (const key of ['k', 'cc', 'dlrk'])
        expect(await takeAllBodies(channel, queues[key]!)).toEqual([]);
    },
    T,
  );
});
