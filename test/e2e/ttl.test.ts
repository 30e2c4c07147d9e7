// End-to-end: message TTL (x-message-ttl and the expiration property, the lower wins). Expired
// messages are dropped or dead-lettered (reason "expired") when they reach the head, also with
// no consumer (the shard's timer), and never delivered; expiration 0 is delivered only to a
// consumer that can take it at once; bad expirations get RabbitMQ's 406; expiry survives a
// restart. Run with WARREN_E2E_EXTERNAL_PORT to check the same tests against RabbitMQ.

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
  type AmqplibChannel,
  amqplibChannel,
  amqplibConfirmChannel,
  EXTERNAL_PORT,
  getEventually,
  Inbox,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

type Headers = Record<string, unknown>;

async function messageCount(channel: AmqplibChannel, queue: string): Promise<number> {
  return (await channel.checkQueue(queue)).messageCount;
}

describe.each(SHARD_COUNTS)('message TTL (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'drops messages older than x-message-ttl without delivering them',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const queue = uniqueName('ttl.q');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-message-ttl': 100 } });
      channel.sendToQueue(queue, Buffer.from('old'));
      await sleep(250);
      channel.sendToQueue(queue, Buffer.from('new'));
      const message = await channel.get(queue, { noAck: true });
      expect(message !== false && message.content.toString()).toBe('new');
      expect(await channel.get(queue)).toBe(false);
    },
    T,
  );

  it(
    'takes the lower of x-message-ttl and the expiration property',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const queue = uniqueName('ttl.q');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-message-ttl': 150 } });
      channel.sendToQueue(queue, Buffer.from('short'), { expiration: '30' });
      channel.sendToQueue(queue, Buffer.from('long'), { expiration: '60000' });
      channel.sendToQueue(queue, Buffer.from('plain'));
      await sleep(80);
      // 'short' is at the head and expired; the other two are within the queue's 150 ms.
      expect(await messageCount(channel, queue)).toBe(2);
      await sleep(200);
      expect(await messageCount(channel, queue)).toBe(0);
    },
    T,
  );

  it(
    'dead-letters expired messages on time with no consumer, reason expired',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const delay = uniqueName('ttl.delay');
      const target = uniqueName('ttl.target');
      await channel.assertQueue(target, { durable: false });
      await channel.assertQueue(delay, {
        durable: false,
        arguments: {
          'x-message-ttl': 200,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': target,
        },
      });
      const inbox = new Inbox<{ message: amqp.ConsumeMessage; atMs: number }>();
      await channel.consume(
        target,
        (message) => {
          if (message !== null) inbox.push({ message, atMs: Date.now() });
        },
        { noAck: true },
      );
      const sentMs = Date.now();
      channel.sendToQueue(delay, Buffer.from('later'), { expiration: '100' });
      channel.sendToQueue(delay, Buffer.from('queue ttl'));
      const [first, second] = await inbox.waitFor(2, 3000);
      expect(first!.message.content.toString()).toBe('later');
      expect(first!.atMs - sentMs).toBeGreaterThanOrEqual(90);
      expect(second!.atMs - sentMs).toBeGreaterThanOrEqual(190);
      expect(second!.atMs - sentMs).toBeLessThan(1500);
      const deaths = (first!.message.properties.headers as Headers)['x-death'] as Headers[];
      expect(deaths[0]).toMatchObject({
        count: 1,
        reason: 'expired',
        queue: delay,
        exchange: '',
        'routing-keys': [delay],
        'original-expiration': '100',
      });
      expect(first!.message.properties.expiration).toBeUndefined();
      const secondDeaths = (second!.message.properties.headers as Headers)['x-death'] as Headers[];
      expect(Object.keys(secondDeaths[0]!)).not.toContain('original-expiration');
      expect((first!.message.properties.headers as Headers)['x-first-death-reason']).toBe(
        'expired',
      );
    },
    T,
  );

  it(
    'never delivers a message that expired while a consumer was busy',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const queue = uniqueName('ttl.busy');
      await channel.assertQueue(queue, { durable: false, arguments: { 'x-message-ttl': 100 } });
      await channel.prefetch(1);
      const inbox = new Inbox<amqp.ConsumeMessage>();
      await channel.consume(queue, (message) => {
        if (message !== null) inbox.push(message);
      });
      channel.sendToQueue(queue, Buffer.from('first'));
      channel.sendToQueue(queue, Buffer.from('second'));
      const [first] = await inbox.waitFor(1);
      await sleep(250);
      channel.ack(first!);
      channel.sendToQueue(queue, Buffer.from('third'));
      const items = await inbox.waitFor(2);
      expect(items.map((message) => message.content.toString())).toEqual(['first', 'third']);
      channel.ack(items[1]!);
    },
    T,
  );

  it(
    'delivers expiration 0 only to a consumer that can take it at once',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const queue = uniqueName('ttl.zero');
      await channel.assertQueue(queue, { durable: false });
      channel.sendToQueue(queue, Buffer.from('nobody'), { expiration: '0' });
      await sleep(50);
      expect(await messageCount(channel, queue)).toBe(0);
      const inbox = new Inbox<amqp.ConsumeMessage>();
      await channel.consume(queue, (message) => message !== null && inbox.push(message), {
        noAck: true,
      });
      channel.sendToQueue(queue, Buffer.from('taken'), { expiration: '0' });
      const [message] = await inbox.waitFor(1);
      expect(message!.content.toString()).toBe('taken');
    },
    T,
  );

  it(
    'delivers a burst of expiration 0 messages to consumers with room, and no more',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const queue = uniqueName('ttl.zero.burst');
      await channel.assertQueue(queue, { durable: false });
      await channel.prefetch(3);
      const inbox = new Inbox<amqp.ConsumeMessage>();
      await channel.consume(queue, (message) => message !== null && inbox.push(message));
      const publisher = await amqplibConfirmChannel(connection);
      for (let i = 0; i < 5; i++)
        publisher.sendToQueue(queue, Buffer.from(`z${i}`), { expiration: '0' });
      await publisher.waitForConfirms();
      await inbox.waitFor(3);
      await sleep(100);
      expect(inbox.items.map((message) => message.content.toString())).toEqual(['z0', 'z1', 'z2']);
      expect(await messageCount(publisher, queue)).toBe(0);
    },
    T,
  );

  it(
    'refuses a bad expiration with 406 as RabbitMQ',
    async () => {
      const connection = await clients.amqplib();
      for (const [expiration, text] of [
        ['abc', "invalid expiration 'abc': no_integer"],
        ['-5', "invalid expiration '-5': {value_negative,-5}"],
        ['10x', `invalid expiration '10x': {leftover_string,"x"}`],
      ] as const) {
        const channel = await amqplibChannel(connection);
        const closed = new Promise<Error>((resolve) => channel.once('error', resolve));
        channel.sendToQueue(uniqueName('nowhere'), Buffer.from('x'), { expiration });
        const error = await closed;
        expect(replyCodeOf(error)).toBe(406);
        expect(error.message).toContain(`PRECONDITION_FAILED - ${text}`);
      }
    },
    T,
  );

  it(
    'drops messages in a dead-letter cycle with no rejection; x-message-ttl is compared on redeclare',
    async () => {
      const channel = await amqplibChannel(await clients.amqplib());
      const queue = uniqueName('ttl.cycle');
      await channel.assertQueue(queue, {
        durable: false,
        arguments: {
          'x-message-ttl': 50,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': queue,
        },
      });
      channel.sendToQueue(queue, Buffer.from('round'));
      await sleep(300);
      expect(await messageCount(channel, queue)).toBe(0);
      const error = await rejectionOf(
        channel.assertQueue(queue, { durable: false, arguments: { 'x-message-ttl': 60 } }),
      );
      expect(replyCodeOf(error)).toBe(406);
    },
    T,
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('message TTL across a restart', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'keeps absolute expiry times: expired while down is gone, the rest expires on time',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 2, dataDir });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      await channel.assertQueue('ttlr.dead', { durable: true });
      await channel.assertQueue('ttlr.q', {
        durable: true,
        arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttlr.dead' },
      });
      channel.sendToQueue('ttlr.q', Buffer.from('soon'), { persistent: true, expiration: '300' });
      channel.sendToQueue('ttlr.q', Buffer.from('later'), { persistent: true, expiration: '2500' });
      await channel.waitForConfirms();
      await connection.close();
      await broker.close();
      await sleep(400);

      broker = await startTestBroker({ shardCount: 2, dataDir });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      const first = await getEventually(channel, 'ttlr.dead', { noAck: true, timeoutMs: 3000 });
      expect(first.content.toString()).toBe('soon');
      expect(((first.properties.headers as Headers)['x-death'] as Headers[])[0]).toMatchObject({
        reason: 'expired',
        queue: 'ttlr.q',
      });
      expect((await channel.checkQueue('ttlr.q')).messageCount).toBe(1);
      const second = await getEventually(channel, 'ttlr.dead', { noAck: true, timeoutMs: 5000 });
      expect(second.content.toString()).toBe('later');
      await connection.close();
    },
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('message TTL with bodies paged out', () => {
  let broker: TestBroker | null = null;
  afterEach(async () => {
    await broker?.close();
    broker = null;
  });

  it(
    'dead-letters persistent messages whose bodies live only in the log',
    { timeout: 30_000 },
    async () => {
      broker = await startTestBroker({ shardCount: 2, queueMemoryBytes: 0 });
      const connection = await amqp.connect(broker.url);
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('ttlp.dead', { durable: true });
      await channel.assertQueue('ttlp.q', {
        durable: true,
        arguments: {
          'x-message-ttl': 200,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': 'ttlp.dead',
        },
      });
      const bodies = Array.from({ length: 20 }, (_, i) => `paged-${i}-${'x'.repeat(1000)}`);
      for (const body of bodies)
        channel.sendToQueue('ttlp.q', Buffer.from(body), { persistent: true });
      await channel.waitForConfirms();
      const received: string[] = [];
      for (let i = 0; i < bodies.length; i++)
        received.push(
          (
            await getEventually(channel, 'ttlp.dead', { noAck: true, timeoutMs: 3000 })
          ).content.toString(),
        );
      expect(received).toEqual(bodies);
      await connection.close();
    },
  );
});
