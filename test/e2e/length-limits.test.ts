// End-to-end: queue length limits (x-max-length, x-max-length-bytes) with each x-overflow:
// drop-head (the default: oldest ready messages go, dead-lettered with reason maxlen),
// reject-publish (basic.nack to confirming publishers, a silent drop otherwise) and
// reject-publish-dlx (nacked and dead-lettered). Only ready messages count. Run with
// WARREN_E2E_EXTERNAL_PORT to check the same tests against RabbitMQ.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
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
  type AmqplibConfirmChannel,
  amqplibConfirmChannel,
  EXTERNAL_PORT,
  namesAcrossShards,
  rejectionOf,
  replyCodeOf,
  takeAll,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

type Headers = Record<string, unknown>;

function bodies(messages: readonly amqp.Message[]): string[] {
  return messages.map((message) => message.content.toString());
}

/** Publishes and resolves with 'ack' or 'nack' once the broker answers. */
function publishConfirmed(
  channel: AmqplibConfirmChannel,
  queue: string,
  body: string,
): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => {
    channel.sendToQueue(queue, Buffer.from(body), {}, (error) =>
      resolve(error === null || error === undefined ? 'ack' : 'nack'),
    );
  });
}

describe.each(SHARD_COUNTS)('length limits (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'drops the oldest ready messages past x-max-length and dead-letters them as maxlen',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const queue = uniqueName('len.q');
      const dead = uniqueName('len.dead');
      await channel.assertQueue(dead, { durable: false });
      await channel.assertQueue(queue, {
        durable: false,
        arguments: {
          'x-max-length': 3,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': dead,
        },
      });
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => publishConfirmed(channel, queue, `m${i}`)),
      );
      expect(results).toEqual(['ack', 'ack', 'ack', 'ack', 'ack']);
      expect(bodies(await takeAll(channel, queue))).toEqual(['m3', 'm4', 'm5']);
      await sleep(50);
      const deadLetters = await takeAll(channel, dead);
      expect(bodies(deadLetters)).toEqual(['m1', 'm2']);
      expect(
        ((deadLetters[0]!.properties.headers as Headers)['x-death'] as Headers[])[0],
      ).toMatchObject({
        reason: 'maxlen',
        queue,
        count: 1,
      });
    },
    T,
  );

  it(
    'counts body bytes for x-max-length-bytes and only ready messages for both limits',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const queue = uniqueName('len.bytes');
      await channel.assertQueue(queue, {
        durable: false,
        arguments: { 'x-max-length-bytes': 25 },
      });
      for (const body of ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc'])
        channel.sendToQueue(queue, Buffer.from(body));
      await channel.waitForConfirms();
      expect((await channel.checkQueue(queue)).messageCount).toBe(2);
      // An unacked message does not count: take one, then two more fit.
      const held = await channel.get(queue, { noAck: false });
      expect(held !== false && held.content.toString()).toBe('bbbbbbbbbb');
      channel.sendToQueue(queue, Buffer.from('dddddddddd'));
      await channel.waitForConfirms();
      expect((await channel.checkQueue(queue)).messageCount).toBe(2);
      channel.ack(held as amqp.GetMessage);
      expect(bodies(await takeAll(channel, queue))).toEqual(['cccccccccc', 'dddddddddd']);
    },
    T,
  );

  it(
    'nacks publishes past the limit with reject-publish, and drops them for plain publishers',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      const queue = uniqueName('len.reject');
      await channel.assertQueue(queue, {
        durable: false,
        arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' },
      });
      const results = await Promise.all(
        ['a', 'b', 'c', 'd'].map((body) => publishConfirmed(channel, queue, body)),
      );
      expect(results).toEqual(['ack', 'ack', 'nack', 'nack']);
      const plain = await amqplibChannel(connection);
      plain.sendToQueue(queue, Buffer.from('e'));
      expect((await plain.checkQueue(queue)).messageCount).toBe(2);
      expect(bodies(await takeAll(plain, queue))).toEqual(['a', 'b']);
      // Room again: accepted.
      expect(await publishConfirmed(channel, queue, 'f')).toBe('ack');
    },
    T,
  );

  it(
    'nacks a publish that one of its queues refused, whichever shard the others are on',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const exchange = uniqueName('len.fanout');
      const [full, open] = namesAcrossShards(broker(), 'len.pair', 2);
      await channel.assertExchange(exchange, 'fanout', { durable: false });
      await channel.assertQueue(full!, {
        durable: false,
        arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
      });
      await channel.assertQueue(open!, { durable: false });
      await channel.bindQueue(full!, exchange, '');
      await channel.bindQueue(open!, exchange, '');
      const publish = (body: string) =>
        new Promise<'ack' | 'nack'>((resolve) =>
          channel.publish(exchange, '', Buffer.from(body), {}, (error) =>
            resolve(error === null || error === undefined ? 'ack' : 'nack'),
          ),
        );
      expect(await Promise.all(['a', 'b', 'c'].map(publish))).toEqual(['ack', 'nack', 'nack']);
      // The queue with room took every message all the same.
      expect((await channel.checkQueue(open!)).messageCount).toBe(3);
      expect((await channel.checkQueue(full!)).messageCount).toBe(1);
    },
    T,
  );

  it(
    'nacks and dead-letters with reject-publish-dlx; x-max-length 0 refuses everything',
    async () => {
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const queue = uniqueName('len.rdlx');
      const dead = uniqueName('len.dead');
      await channel.assertQueue(dead, { durable: false });
      await channel.assertQueue(queue, {
        durable: false,
        arguments: {
          'x-max-length': 0,
          'x-overflow': 'reject-publish-dlx',
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': dead,
        },
      });
      expect(await publishConfirmed(channel, queue, 'refused')).toBe('nack');
      await sleep(50);
      const deadLetters = await takeAll(channel, dead);
      expect(bodies(deadLetters)).toEqual(['refused']);
      expect(
        ((deadLetters[0]!.properties.headers as Headers)['x-death'] as Headers[])[0],
      ).toMatchObject({
        reason: 'maxlen',
        queue,
      });
    },
    T,
  );

  it(
    'validates limit arguments and compares them on redeclare as RabbitMQ',
    async () => {
      const connection = await clients.amqplib();
      const queue = uniqueName('len.args');
      let channel = await amqplibChannel(connection);
      let error = await rejectionOf(
        channel.assertQueue(queue, { arguments: { 'x-max-length': -1 } }),
      );
      expect(error.message).toContain(
        `PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '${queue}' in vhost '/': {value_negative,-1}`,
      );
      channel = await amqplibChannel(connection);
      error = await rejectionOf(
        channel.assertQueue(queue, { arguments: { 'x-overflow': 'drop-tail' } }),
      );
      expect(replyCodeOf(error)).toBe(406);
      expect(error.message).toContain(`invalid arg 'x-overflow'`);
      channel = await amqplibChannel(connection);
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-max-length': 10 } });
      error = await rejectionOf(
        channel.assertQueue(queue, { durable: false, arguments: { 'x-max-length': 20 } }),
      );
      expect(replyCodeOf(error)).toBe(406);
      expect(error.message).toContain(`inequivalent arg 'x-max-length'`);
    },
    T,
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('length limits across a restart', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps only what drop-head left', { timeout: 30_000 }, async () => {
    dataDir = temporaryDataDir();
    broker = await startTestBroker({ shardCount: 2, dataDir });
    let connection = await amqp.connect(broker.url);
    let channel = await connection.createConfirmChannel();
    await channel.assertQueue('lenr.q', { durable: true, arguments: { 'x-max-length': 2 } });
    for (let i = 1; i <= 5; i++)
      channel.sendToQueue('lenr.q', Buffer.from(`m${i}`), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
    await broker.close();

    broker = await startTestBroker({ shardCount: 2, dataDir });
    connection = await amqp.connect(broker.url);
    channel = await connection.createConfirmChannel();
    expect(bodies(await takeAll(channel, 'lenr.q'))).toEqual(['m4', 'm5']);
    await connection.close();
  });
});
