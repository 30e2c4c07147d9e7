// End-to-end: dead-lettering (x-dead-letter-exchange, x-dead-letter-routing-key) of rejected and
// nacked messages, with the x-death and x-first-death-* headers exactly as RabbitMQ 3.10 writes
// them (checked against a 3.10.8 node: run with WARREN_E2E_EXTERNAL_PORT), repeated deaths,
// cycles, and a persistent dead-lettered message across a restart.

import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SHARD_COUNTS,
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
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
  within,
} from '../helpers/e2e.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const T = TEST_TIMEOUT_MS;

type Headers = Record<string, unknown>;

function isTimestamp(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { '!': string })['!'] === 'timestamp' &&
    Math.abs((value as { value: number }).value - Date.now() / 1000) < 60
  );
}

describe.each(SHARD_COUNTS)('dead-lettering (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  async function setup(channel: AmqplibChannel, sourceArgs: Record<string, unknown> = {}) {
    const exchange = uniqueName('dlx');
    const source = uniqueName('dl.src');
    const target = uniqueName('dl.dst');
    await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: false });
    await channel.assertQueue(source, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': exchange, ...sourceArgs },
    });
    await channel.assertQueue(target, { durable: false });
    await channel.bindQueue(target, exchange, '');
    return { exchange, source, target };
  }

  it(
    'dead-letters a rejected message with x-death as RabbitMQ writes it',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const { exchange, source, target } = await setup(channel);
      channel.sendToQueue(source, Buffer.from('body'), {
        headers: { zz: 1, aa: 'x' },
        expiration: '60000',
        persistent: true,
        messageId: 'm1',
      });
      const message = await getEventually(channel, source);
      channel.reject(message, false);
      const dead = await getEventually(channel, target);
      expect(dead.content.toString()).toBe('body');
      expect(dead.fields.exchange).toBe(exchange);
      expect(dead.fields.routingKey).toBe(source);
      expect(dead.properties.expiration).toBeUndefined();
      expect(dead.properties.messageId).toBe('m1');
      expect(dead.properties.deliveryMode).toBe(2);
      const headers = dead.properties.headers as Headers;
      // The headers table comes back sorted by key.
      expect(Object.keys(headers)).toEqual([
        'aa',
        'x-death',
        'x-first-death-exchange',
        'x-first-death-queue',
        'x-first-death-reason',
        'zz',
      ]);
      expect(headers['x-first-death-exchange']).toBe('');
      expect(headers['x-first-death-queue']).toBe(source);
      expect(headers['x-first-death-reason']).toBe('rejected');
      const deaths = headers['x-death'] as Headers[];
      expect(deaths).toHaveLength(1);
      // The first entry keeps RabbitMQ's field order.
      expect(Object.keys(deaths[0]!)).toEqual([
        'count',
        'reason',
        'queue',
        'time',
        'exchange',
        'routing-keys',
        'original-expiration',
      ]);
      expect(deaths[0]).toMatchObject({
        count: 1,
        reason: 'rejected',
        queue: source,
        exchange: '',
        'routing-keys': [source],
        'original-expiration': '60000',
      });
      expect(isTimestamp(deaths[0]!['time'])).toBe(true);
      channel.ack(dead);
    },
    T,
  );

  it(
    'uses x-dead-letter-routing-key, and nack dead-letters like reject',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const exchange = uniqueName('dlx.direct');
      const source = uniqueName('dl.src');
      const target = uniqueName('dl.dst');
      await channel.assertExchange(exchange, 'direct', { durable: false });
      await channel.assertQueue(source, {
        durable: false,
        arguments: { 'x-dead-letter-exchange': exchange, 'x-dead-letter-routing-key': 'dead' },
      });
      await channel.assertQueue(target, { durable: false });
      await channel.bindQueue(target, exchange, 'dead');
      channel.publish('', source, Buffer.from('a'));
      channel.publish('', source, Buffer.from('b'));
      await getEventually(channel, source);
      const second = await getEventually(channel, source);
      // nack multiple: both go.
      channel.nack(second, true, false);
      const deadA = await getEventually(channel, target);
      const deadB = await getEventually(channel, target);
      expect([deadA.content.toString(), deadB.content.toString()]).toEqual(['a', 'b']);
      expect(deadA.fields.routingKey).toBe('dead');
      const death = (deadA.properties.headers as Headers)['x-death'] as Headers[];
      expect(death[0]).toMatchObject({ reason: 'rejected', 'routing-keys': [source] });
      expect(Object.keys(death[0]!)).not.toContain('original-expiration');
      channel.ack(deadB, true);
    },
    T,
  );

  it(
    'counts repeated deaths in one entry, newest first, keeping its first time',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const { exchange, source, target } = await setup(channel);
      // The target dead-letters back to the source through the default exchange.
      await channel.deleteQueue(target);
      await channel.assertQueue(target, {
        durable: false,
        arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': source },
      });
      await channel.bindQueue(target, exchange, '');
      channel.sendToQueue(source, Buffer.from('loop'));
      channel.reject(await getEventually(channel, source), false);
      channel.reject(await getEventually(channel, target), false);
      const again = await getEventually(channel, source);
      const second = (again.properties.headers as Headers)['x-death'] as Headers[];
      expect(second.map((death) => [death['queue'], death['count']])).toEqual([
        [target, 1],
        [source, 1],
      ]);
      // Entries after the first are sorted by key.
      expect(Object.keys(second[0]!)).toEqual([
        'count',
        'exchange',
        'queue',
        'reason',
        'routing-keys',
        'time',
      ]);
      expect(second[0]).toMatchObject({ exchange, 'routing-keys': [source] });
      channel.reject(again, false);
      const third = await getEventually(channel, target);
      const deaths = (third.properties.headers as Headers)['x-death'] as Headers[];
      expect(deaths.map((death) => [death['queue'], death['count']])).toEqual([
        [source, 2],
        [target, 1],
      ]);
      expect(Object.keys(deaths[0]!)).toEqual([
        'count',
        'exchange',
        'queue',
        'reason',
        'routing-keys',
        'time',
      ]);
      expect((third.properties.headers as Headers)['x-first-death-queue']).toBe(source);
      channel.ack(third);
    },
    T,
  );

  it(
    'drops a dead letter whose exchange does not exist, and keeps a plain reject a drop',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const source = uniqueName('dl.src');
      await channel.assertQueue(source, {
        durable: false,
        arguments: { 'x-dead-letter-exchange': uniqueName('missing') },
      });
      channel.sendToQueue(source, Buffer.from('x'));
      channel.reject(await getEventually(channel, source), false);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await channel.checkQueue(source)).messageCount).toBe(0);
      const plain = uniqueName('dl.plain');
      await channel.assertQueue(plain, { durable: false });
      channel.sendToQueue(plain, Buffer.from('y'));
      channel.reject(await getEventually(channel, plain), false);
      expect((await channel.checkQueue(plain)).messageCount).toBe(0);
    },
    T,
  );

  it(
    'lets a consumer see the dead letter and confirms are unaffected',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      const { source, target } = await setup(channel);
      const received = new Promise<amqp.ConsumeMessage>((resolve) => {
        void channel.consume(target, (message) => {
          if (message !== null) resolve(message);
        });
      });
      await new Promise<void>((resolve, reject) =>
        channel.sendToQueue(source, Buffer.from('c'), {}, (error) =>
          error === null || error === undefined ? resolve() : reject(error as Error),
        ),
      );
      channel.reject(await getEventually(channel, source), false);
      const message = await within(received, 3000, 'the dead letter');
      expect(message.content.toString()).toBe('c');
      channel.ack(message);
    },
    T,
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('dead-letter exchange permissions', () => {
  let broker: TestBroker | null = null;
  afterEach(async () => {
    await broker?.close();
    broker = null;
  });

  it(
    'needs write on the dead-letter exchange to declare a queue',
    { timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'warren-e2e-dlx-'));
      const definitionsFile = join(dir, 'definitions.json');
      writeFileSync(
        definitionsFile,
        JSON.stringify({
          users: [
            { name: 'guest', password: 'guest', tags: ['administrator'] },
            { name: 'bob', password: 'bob-secret', tags: [] },
          ],
          vhosts: [{ name: '/' }],
          permissions: [
            { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
            { user: 'bob', vhost: '/', configure: '.*', write: '^bob\\.', read: '.*' },
          ],
        }),
      );
      broker = await startTestBroker({ shardCount: 1, definitionsFile });
      const connection = await amqp.connect(`amqp://bob:bob-secret@127.0.0.1:${broker.port}`);
      try {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        const error = await channel
          .assertQueue('bob.q', { arguments: { 'x-dead-letter-exchange': 'amq.fanout' } })
          .then(
            () => null,
            (failure: Error) => failure,
          );
        expect(error?.message).toContain(
          "ACCESS_REFUSED - write access to exchange 'amq.fanout' in vhost '/' refused for user 'bob'",
        );
        const allowed = await connection.createChannel();
        await allowed.assertExchange('bob.dlx', 'fanout', { durable: false });
        await allowed.assertQueue('bob.q', { arguments: { 'x-dead-letter-exchange': 'bob.dlx' } });
      } finally {
        await connection.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe.skipIf(EXTERNAL_PORT !== null)('dead-lettering across a restart', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'keeps a persistent dead-lettered message in a durable queue',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 2, dataDir });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createChannel();
      await channel.assertExchange('dlr.x', 'fanout', { durable: true });
      await channel.assertQueue('dlr.src', {
        durable: true,
        arguments: { 'x-dead-letter-exchange': 'dlr.x' },
      });
      await channel.assertQueue('dlr.dst', { durable: true });
      await channel.bindQueue('dlr.dst', 'dlr.x', '');
      channel.sendToQueue('dlr.src', Buffer.from('keep'), { persistent: true });
      channel.reject(await getEventually(channel, 'dlr.src'), false);
      await getEventually(channel, 'dlr.dst').then((message) => channel.nack(message, false, true));
      await connection.close();
      await broker.close();

      broker = await startTestBroker({ shardCount: 2, dataDir });
      connection = await amqp.connect(broker.url);
      channel = await connection.createChannel();
      expect((await channel.checkQueue('dlr.src')).messageCount).toBe(0);
      const message = await getEventually(channel, 'dlr.dst');
      expect(message.content.toString()).toBe('keep');
      const deaths = (message.properties.headers as Headers)['x-death'] as Headers[];
      expect(deaths[0]).toMatchObject({ count: 1, queue: 'dlr.src', reason: 'rejected' });
      channel.ack(message);
      await connection.close();
    },
  );
});
