// End-to-end: the basic class apart from acknowledgements and prefetch (see basic-acks.test.ts).
// Mandatory returns, properties and headers delivered byte for byte, consumer tags, exclusive
// consumers, duplicate tags, cancel from either side, basic.get, order and round-robin, large
// messages split into frames, and publishing to a missing exchange.
// Reference: docs/rabbitmq-behaviour.md sections 2.6 and 7.

import type { AMQPMessage } from '@cloudamqp/amqp-client';
import type { ConsumeMessage, Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  Inbox,
  nextEvent,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
  within,
} from '../helpers/e2e.js';
import type { RawClient } from '../helpers/raw-client.js';
import { decodeClose, Decoder, Encoder, FieldTableBuilder } from '../helpers/wire.js';

const T = TEST_TIMEOUT_MS;
const SERVER_CONSUMER_TAG = /^amq\.ctag-[A-Za-z0-9_-]{22}$/;

/** A headers table with one entry of every field type RabbitMQ knows, nested ones included. */
function everyFieldType(): FieldTableBuilder {
  return new FieldTableBuilder()
    .bool('bool', true)
    .int8('int8', -5)
    .uint8('uint8', 200)
    .int16('int16', -300)
    .uint16('uint16', 60000)
    .int32('int32', -70000)
    .uint32('uint32', 4_000_000_000)
    .int64('int64', -(2n ** 40n))
    .float('float', 1.5)
    .double('double', -2.25)
    .decimal('decimal', 2, 12345)
    .longstr('longstr', 'héllo wörld')
    .timestamp('timestamp', 1_700_000_000)
    .table(
      'table',
      new FieldTableBuilder()
        .longstr('inner', 'x')
        .int32('n', 7)
        .table('deeper', new FieldTableBuilder().void('v')),
    )
    .array(
      'array',
      new FieldTableBuilder(true)
        .int32('', 1)
        .longstr('', 'two')
        .bool('', true)
        .void('')
        .table('', new FieldTableBuilder().bool('deep', false))
        .array('', new FieldTableBuilder(true).int8('', 3)),
    )
    .array('emptyArray', new FieldTableBuilder(true))
    .table('emptyTable', new FieldTableBuilder())
    .void('void')
    .bytes('bytes', Buffer.from([0, 1, 2, 255]));
}

/** Content properties with all fourteen flags set (the flags word included). */
function allProperties(headers: Buffer): Buffer {
  return new Encoder()
    .u16(0xfffc)
    .shortstr('application/json')
    .shortstr('gzip')
    .table(headers)
    .u8(2)
    .u8(7)
    .shortstr('correlation-1')
    .shortstr('reply.queue')
    .shortstr('60000')
    .shortstr('message-1')
    .u64(1_700_000_001)
    .shortstr('type-a')
    .shortstr('guest')
    .shortstr('app-1')
    .shortstr('cluster-1')
    .toBuffer();
}

function basicGet(raw: RawClient, channel: number, queue: string, noAck: boolean): void {
  raw.sendRawMethod(
    channel,
    60,
    70,
    new Encoder()
      .u16(0)
      .shortstr(queue)
      .u8(noAck ? 1 : 0)
      .toBuffer(),
  );
}

function basicConsume(
  raw: RawClient,
  channel: number,
  queue: string,
  tag: string,
  noAck: boolean,
): void {
  raw.sendRawMethod(
    channel,
    60,
    20,
    new Encoder()
      .u16(0)
      .shortstr(queue)
      .shortstr(tag)
      .u8(noAck ? 2 : 0)
      .table(Buffer.alloc(0))
      .toBuffer(),
  );
}

describe.each(SHARD_COUNTS)('basic (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  describe('publish and return', () => {
    it('routes each publish by its own exchange and routing key when they alternate and repeat', async () => {
      // The channel keeps the names of the last publish while the bytes repeat; a change must
      // always be seen, whichever field changes and in whatever order.
      const channel = await amqplibConfirmChannel(await clients.amqplib());
      const exchange = uniqueName('x.alternate');
      await channel.assertExchange(exchange, 'direct', { durable: false });
      const queues = [uniqueName('q.a'), uniqueName('q.b'), uniqueName('q.ab')];
      for (const queue of queues) await channel.assertQueue(queue, { exclusive: true });
      await channel.bindQueue(queues[0]!, exchange, 'a');
      await channel.bindQueue(queues[1]!, exchange, 'b');
      // Same length as 'a' and 'b': only the bytes tell them apart.
      await channel.bindQueue(queues[2]!, exchange, 'c');
      const keys = ['a', 'a', 'b', 'a', 'c', 'c', 'b', 'b', 'a'];
      keys.forEach((key, index) => channel.publish(exchange, key, Buffer.from(`${index}`)));
      // And the default exchange in between: the exchange name changes, not the key length.
      channel.sendToQueue(queues[0]!, Buffer.from('direct'));
      await channel.waitForConfirms();
      const bodies = async (queue: string) => {
        const got: string[] = [];
        for (
          let message = await channel.get(queue);
          message !== false;
          message = await channel.get(queue)
        )
          got.push(message.content.toString());
        return got;
      };
      expect(await bodies(queues[0]!)).toEqual(['0', '1', '3', '8', 'direct']);
      expect(await bodies(queues[1]!)).toEqual(['2', '6', '7']);
      expect(await bodies(queues[2]!)).toEqual(['4', '5']);
    });

    it(
      'amqplib: an unroutable mandatory message comes back as basic.return 312 NO_ROUTE with its content',
      async () => {
        const channel = await amqplibConfirmChannel(await clients.amqplib());
        const exchange = uniqueName('x.nobody');
        await channel.assertExchange(exchange, 'direct', { durable: false });
        const returned = nextEvent<Message>(channel, 'return');
        channel.publish(exchange, 'no.binding', Buffer.from('bounce'), {
          mandatory: true,
          headers: { h: 'v' },
          messageId: 'id-1',
        });
        // Not mandatory: dropped silently, channel stays open.
        channel.publish(exchange, 'no.binding', Buffer.from('dropped'));
        await channel.waitForConfirms();
        const message = await returned;
        expect(message.fields).toEqual({
          replyCode: 312,
          replyText: 'NO_ROUTE',
          exchange,
          routingKey: 'no.binding',
        });
        expect(message.content.toString()).toBe('bounce');
        expect(message.properties.headers).toEqual({ h: 'v' });
        expect(message.properties.messageId).toBe('id-1');
        await channel.checkExchange(exchange);
      },
      T,
    );

    it(
      'amqp-client: an unroutable mandatory message is returned with reply code 312',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        const returned = new Promise<AMQPMessage>((resolve) => {
          channel.onReturn = resolve;
        });
        await channel.basicPublish(
          '',
          uniqueName('no-such-queue'),
          'bounce',
          { contentType: 'text/plain' },
          true,
        );
        const message = await within(returned, 5000, 'basic.return');
        expect(message.replyCode).toBe(312);
        expect(message.replyText).toBe('NO_ROUTE');
        expect(message.bodyToString()).toBe('bounce');
        expect(message.properties.contentType).toBe('text/plain');
      },
      T,
    );

    it(
      'properties and headers of every field type arrive byte for byte via get, deliver, return and a headers exchange (raw)',
      async () => {
        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        const queue = await raw.declareQueue(1, '', { exclusive: true });
        const properties = allProperties(everyFieldType().toBuffer());
        const body = Buffer.from('payload \u0000\u00ff');

        raw.publish(1, '', queue, body, { rawProperties: properties });
        basicGet(raw, 1, queue, true);
        await raw.expectMethodFrame(1, 60, 71);
        const viaGet = await raw.readContent(1);
        expect(viaGet.properties.equals(properties)).toBe(true);
        expect(viaGet.body.equals(body)).toBe(true);

        raw.publish(1, '', uniqueName('nowhere'), body, {
          rawProperties: properties,
          mandatory: true,
        });
        const returned = await raw.expectMethodFrame(1, 60, 50);
        const returnArgs = new Decoder(returned.args);
        expect([returnArgs.u16(), returnArgs.shortstr()]).toEqual([312, 'NO_ROUTE']);
        const viaReturn = await raw.readContent(1);
        expect(viaReturn.properties.equals(properties)).toBe(true);
        expect(viaReturn.body.equals(body)).toBe(true);

        // A headers exchange has to decode the table to route: every type must survive that.
        raw.sendRawMethod(
          1,
          50,
          20,
          new Encoder()
            .u16(0)
            .shortstr(queue)
            .shortstr('amq.headers')
            .shortstr('')
            .u8(0)
            .table(
              new FieldTableBuilder()
                .longstr('x-match', 'all')
                .int8('int8', -5)
                .longstr('longstr', 'héllo wörld')
                .toBuffer(),
            )
            .toBuffer(),
        );
        await raw.expectMethodFrame(1, 50, 21);
        basicConsume(raw, 1, queue, 'raw-consumer', true);
        await raw.expectMethodFrame(1, 60, 21);
        raw.publish(1, 'amq.headers', 'ignored', body, { rawProperties: properties });
        const deliver = await raw.expectMethodFrame(1, 60, 60);
        expect(new Decoder(deliver.args).shortstr()).toBe('raw-consumer');
        const viaDeliver = await raw.readContent(1);
        expect(viaDeliver.properties.equals(properties)).toBe(true);
        expect(viaDeliver.body.equals(body)).toBe(true);
        await raw.close();
      },
      T,
    );

    it(
      'amqplib: every property and every typed header value round-trips',
      async () => {
        const channel = await amqplibConfirmChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const headers = {
          bool: true,
          int8: { '!': 'int8', value: -5 },
          uint8: { '!': 'uint8', value: 200 },
          int16: { '!': 'int16', value: -300 },
          uint16: { '!': 'uint16', value: 60000 },
          int32: { '!': 'int32', value: -70000 },
          uint32: { '!': 'uint32', value: 4_000_000_000 },
          int64: { '!': 'int64', value: -(2 ** 40) },
          float: { '!': 'float', value: 1.5 },
          double: { '!': 'double', value: -2.25 },
          decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
          string: 'héllo',
          timestamp: { '!': 'timestamp', value: 1_700_000_000 },
          table: { inner: 'x', nested: { deep: true } },
          array: [1, 'two', true, null, { k: 'v' }],
          void: null,
          bytes: Buffer.from([0, 1, 2, 255]),
        };
        channel.sendToQueue(queue, Buffer.from('body'), {
          contentType: 'application/json',
          contentEncoding: 'gzip',
          headers,
          deliveryMode: 2,
          priority: 7,
          correlationId: 'correlation-1',
          replyTo: 'reply.queue',
          expiration: '60000',
          messageId: 'message-1',
          timestamp: 1_700_000_001,
          type: 'type-a',
          userId: 'guest',
          appId: 'app-1',
        });
        await channel.waitForConfirms();
        const message = await channel.get(queue, { noAck: true });
        expect(message).not.toBe(false);
        const { properties } = message as Message;
        expect(properties).toMatchObject({
          contentType: 'application/json',
          contentEncoding: 'gzip',
          deliveryMode: 2,
          priority: 7,
          correlationId: 'correlation-1',
          replyTo: 'reply.queue',
          expiration: '60000',
          messageId: 'message-1',
          timestamp: 1_700_000_001,
          type: 'type-a',
          userId: 'guest',
          appId: 'app-1',
        });
        expect(properties.headers).toEqual({
          bool: true,
          int8: -5,
          uint8: 200,
          int16: -300,
          uint16: 60000,
          int32: -70000,
          uint32: 4_000_000_000,
          int64: -(2 ** 40),
          float: 1.5,
          double: -2.25,
          decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
          string: 'héllo',
          timestamp: { '!': 'timestamp', value: 1_700_000_000 },
          table: { inner: 'x', nested: { deep: true } },
          array: [1, 'two', true, null, { k: 'v' }],
          void: null,
          bytes: Buffer.from([0, 1, 2, 255]),
        });
      },
      T,
    );

    it(
      'amqp-client: every property and header value round-trips',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        await channel.confirmSelect();
        const queue = await channel.queueDeclare('', { exclusive: true });
        const timestamp = new Date(1_700_000_001_000);
        await channel.basicPublish('', queue.name, 'body', {
          contentType: 'application/json',
          contentEncoding: 'gzip',
          headers: {
            string: 'héllo',
            int: -70000,
            big: 2n ** 40n,
            float: 1.5,
            bool: false,
            nothing: null,
            array: [1, 'two', true],
            when: new Date(1_700_000_000_000),
            bytes: new Uint8Array([0, 1, 255]),
            table: { inner: 'x' },
          },
          deliveryMode: 2,
          priority: 3,
          correlationId: 'c',
          replyTo: 'r',
          expiration: '60000',
          messageId: 'm',
          timestamp,
          type: 't',
          userId: 'guest',
          appId: 'a',
        });
        const message = await channel.basicGet(queue.name, { noAck: true });
        expect(message).not.toBeNull();
        expect(message!.bodyToString()).toBe('body');
        const { headers, ...rest } = message!.properties;
        expect(rest).toEqual({
          contentType: 'application/json',
          contentEncoding: 'gzip',
          deliveryMode: 2,
          priority: 3,
          correlationId: 'c',
          replyTo: 'r',
          expiration: '60000',
          messageId: 'm',
          timestamp,
          type: 't',
          userId: 'guest',
          appId: 'a',
        });
        expect(headers).toMatchObject({
          string: 'héllo',
          int: -70000,
          big: 2 ** 40,
          float: 1.5,
          bool: false,
          nothing: null,
          array: [1, 'two', true],
          when: new Date(1_700_000_000_000),
          table: { inner: 'x' },
        });
        expect(Buffer.from(headers!['bytes'] as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
      },
      T,
    );

    it(
      'publishing to a missing exchange closes the channel with 404 (60/40), by every client',
      async () => {
        const missing = uniqueName('x.missing');
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const failed = nextEvent<Error & { classId?: number; methodId?: number }>(channel, 'error');
        channel.publish(missing, 'k', Buffer.from('x'));
        const error = await failed;
        expect(replyCodeOf(error)).toBe(404);
        expect([error.classId, error.methodId]).toEqual([60, 40]);
        expect(error.message).toContain(`NOT_FOUND - no exchange '${missing}' in vhost '/'`);
        // The connection is fine.
        await (await amqplibChannel(connection)).checkExchange('amq.direct');

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        const closed = new Promise<string>((resolve) => {
          cloudChannel.onerror = resolve;
        });
        await cloudChannel.basicPublish(missing, 'k', 'x');
        expect(await within(closed, 5000, 'channel close')).toContain('(404)');

        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        raw.publish(1, missing, 'k', Buffer.from('x'), {
          rawProperties: new Encoder().u16(0).toBuffer(),
        });
        expect(decodeClose(await raw.expectMethodFrame(1, 20, 40))).toEqual({
          replyCode: 404,
          replyText: `NOT_FOUND - no exchange '${missing}' in vhost '/'`,
          classId: 60,
          methodId: 40,
        });
      },
      T,
    );
  });

  it(
    'publish with immediate=true is refused with 540 NOT_IMPLEMENTED, closing the connection (60/40)',
    async () => {
      const raw = await clients.raw();
      await raw.handshake();
      await raw.openChannel(1);
      raw.publish(1, '', 'q', Buffer.from('x'), {
        rawProperties: new Encoder().u16(0).toBuffer(),
        immediate: true,
      });
      expect(decodeClose(await raw.expectMethodFrame(0, 10, 50))).toEqual({
        replyCode: 540,
        replyText: 'NOT_IMPLEMENTED - immediate=true',
        classId: 60,
        methodId: 40,
      });
      const client = await clients.cloud();
      const channel = await client.channel();
      await channel.basicPublish('', 'q', 'x', {}, false, true).catch(() => undefined);
      await within(
        new Promise<void>((resolve) => {
          const poll = setInterval(() => {
            if (client.closed) {
              clearInterval(poll);
              resolve();
            }
          }, 5);
        }),
        5000,
        'amqp-client connection closed by the server',
      );
    },
    T,
  );

  describe('consume and cancel', () => {
    it(
      'consuming from a missing queue is 404',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const missing = uniqueName('q.none');
        const error = await rejectionOf(channel.consume(missing, () => undefined));
        expect(replyCodeOf(error)).toBe(404);
        expect(error.message).toContain(`NOT_FOUND - no queue '${missing}' in vhost '/'`);
      },
      T,
    );

    it(
      'a 404 for a missing queue or exchange names the failing method in channel.close',
      async () => {
        const connection = await clients.amqplib();
        const missing = uniqueName('missing');
        const attempts: [
          string,
          (channel: Awaited<ReturnType<typeof amqplibChannel>>) => Promise<unknown>,
          [number, number],
        ][] = [
          ['basic.consume', (channel) => channel.consume(missing, () => undefined), [60, 20]],
          ['basic.get', (channel) => channel.get(missing), [60, 70]],
          ['queue.purge', (channel) => channel.purgeQueue(missing), [50, 30]],
          ['queue.bind', (channel) => channel.bindQueue(missing, 'amq.direct', 'k'), [50, 20]],
          [
            'exchange.bind',
            (channel) => channel.bindExchange('amq.direct', missing, 'k'),
            [40, 30],
          ],
        ];
        for (const [what, attempt, ids] of attempts) {
          const channel = await amqplibChannel(connection);
          const error = (await rejectionOf(attempt(channel))) as Error & {
            classId?: number;
            methodId?: number;
          };
          expect(replyCodeOf(error), what).toBe(404);
          expect([error.classId, error.methodId], what).toEqual(ids);
        }
      },
      T,
    );

    it(
      'amqplib: consumers get the tag they chose, or a server tag amq.ctag-<22 chars>, on every delivery',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const inbox = new Inbox<ConsumeMessage>();
        const chosen = await channel.consume(queue, (m) => m !== null && inbox.push(m), {
          consumerTag: 'my-tag',
          noAck: true,
        });
        expect(chosen.consumerTag).toBe('my-tag');
        const { queue: second } = await channel.assertQueue('', { exclusive: true });
        const generated = await channel.consume(second, (m) => m !== null && inbox.push(m), {
          noAck: true,
        });
        expect(generated.consumerTag).toMatch(SERVER_CONSUMER_TAG);
        channel.sendToQueue(queue, Buffer.from('a'));
        channel.sendToQueue(second, Buffer.from('b'));
        const messages = await inbox.waitFor(2);
        const tagOf = (body: string) =>
          messages.find((m) => m.content.toString() === body)!.fields.consumerTag;
        expect(tagOf('a')).toBe('my-tag');
        expect(tagOf('b')).toBe(generated.consumerTag);
      },
      T,
    );

    it(
      'amqp-client: consumer tags, client-chosen and server-generated',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        const queue = await channel.queueDeclare('', { exclusive: true });
        const inbox = new Inbox<AMQPMessage>();
        const chosen = await channel.basicConsume(
          queue.name,
          { tag: 'cloud-tag', noAck: true },
          (m) => inbox.push(m),
        );
        expect(chosen.tag).toBe('cloud-tag');
        const other = await channel.queueDeclare('', { exclusive: true });
        const generated = await channel.basicConsume(other.name, { noAck: true }, (m) =>
          inbox.push(m),
        );
        expect(generated.tag).toMatch(SERVER_CONSUMER_TAG);
        await channel.basicPublish('', queue.name, 'a');
        await channel.basicPublish('', other.name, 'b');
        const messages = await inbox.waitFor(2);
        expect(messages.map((m) => [m.bodyToString(), m.consumerTag]).sort()).toEqual([
          ['a', 'cloud-tag'],
          ['b', generated.tag],
        ]);
      },
      T,
    );

    it(
      'an exclusive consumer is refused (403) when the queue has consumers, and blocks later consumers (403)',
      async () => {
        const connection = await clients.amqplib();
        const setup = await amqplibChannel(connection);
        const busy = uniqueName('q.busy');
        const owned = uniqueName('q.owned');
        await setup.assertQueue(busy, { exclusive: true });
        await setup.assertQueue(owned, { exclusive: true });
        await setup.consume(busy, () => undefined);
        await setup.consume(owned, () => undefined, { exclusive: true });

        const wantsExclusive = await amqplibChannel(connection);
        const first = await rejectionOf(
          wantsExclusive.consume(busy, () => undefined, { exclusive: true }),
        );
        expect(replyCodeOf(first)).toBe(403);
        expect(first.message).toContain(
          `ACCESS_REFUSED - queue '${busy}' in vhost '/' in exclusive use`,
        );
        const wantsShared = await amqplibChannel(connection);
        const second = await rejectionOf(wantsShared.consume(owned, () => undefined));
        expect(replyCodeOf(second)).toBe(403);
        expect(second.message).toContain(
          `ACCESS_REFUSED - queue '${owned}' in vhost '/' in exclusive use`,
        );

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        const shared = uniqueName('cq.busy');
        await cloudChannel.queueDeclare(shared, { autoDelete: true });
        await cloudChannel.basicConsume(shared, { exclusive: true }, () => undefined);
        const refused = await rejectionOf(
          (await client.channel()).basicConsume(shared, {}, () => undefined),
        );
        expect(replyCodeOf(refused)).toBe(403);
      },
      T,
    );

    it(
      'reusing a consumer tag on a channel closes the connection with 530 (60/20)',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const { queue } = await channel.assertQueue('', { exclusive: true });
        await channel.consume(queue, () => undefined, { consumerTag: 'dup' });
        const connectionError = nextEvent<Error & { code?: number }>(connection, 'error');
        void channel.consume(queue, () => undefined, { consumerTag: 'dup' }).catch(() => undefined);
        const error = await connectionError;
        expect(error.code).toBe(530);
        expect(error.message).toContain("NOT_ALLOWED - attempt to reuse consumer tag 'dup'");

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        const cloudQueue = await cloudChannel.queueDeclare('', { exclusive: true });
        await cloudChannel.basicConsume(cloudQueue.name, { tag: 'dup' }, () => undefined);
        const cloudError = await rejectionOf(
          cloudChannel.basicConsume(cloudQueue.name, { tag: 'dup' }, () => undefined),
        );
        expect(replyCodeOf(cloudError)).toBe(530);
        expect(client.closed).toBe(true);

        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        const rawQueue = await raw.declareQueue(1, '', { exclusive: true });
        basicConsume(raw, 1, rawQueue, 'dup', false);
        await raw.expectMethodFrame(1, 60, 21);
        basicConsume(raw, 1, rawQueue, 'dup', false);
        expect(decodeClose(await raw.expectMethodFrame(0, 10, 50))).toEqual({
          replyCode: 530,
          replyText: "NOT_ALLOWED - attempt to reuse consumer tag 'dup'",
          classId: 60,
          methodId: 20,
        });
      },
      T,
    );

    it(
      'basic.cancel stops deliveries and leaves later messages in the queue; an unknown tag is answered with cancel-ok',
      async () => {
        const channel = await amqplibConfirmChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const inbox = new Inbox<ConsumeMessage>();
        const { consumerTag } = await channel.consume(queue, (m) => m !== null && inbox.push(m), {
          noAck: true,
        });
        channel.sendToQueue(queue, Buffer.from('before'));
        await inbox.waitFor(1);
        expect(await channel.cancel(consumerTag)).toEqual({ consumerTag });
        channel.sendToQueue(queue, Buffer.from('after'));
        await channel.waitForConfirms();
        expect((await channel.checkQueue(queue)).messageCount).toBe(1);
        expect(inbox.items.map((m) => m.content.toString())).toEqual(['before']);
        expect(await channel.cancel('never-existed')).toEqual({ consumerTag: 'never-existed' });

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        // amqp-client makes server-named queues auto-delete; this one must outlive its consumer.
        const cloudQueue = await cloudChannel.queueDeclare(uniqueName('cq.cancel'), {
          exclusive: true,
          autoDelete: false,
        });
        const consumer = await cloudChannel.basicConsume(cloudQueue.name, {}, () => undefined);
        await consumer.cancel();
        await cloudChannel.basicCancel('never-existed');
        await cloudChannel.basicPublish('', cloudQueue.name, 'stays');
        expect(
          (await cloudChannel.queueDeclare(cloudQueue.name, { passive: true })).messageCount,
        ).toBe(1);
      },
      T,
    );

    it(
      'deleting a consumed queue makes the server send basic.cancel to its consumers (consumer_cancel_notify)',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const queue = uniqueName('q.cancelled');
        await channel.assertQueue(queue, { durable: false });
        const publisher = await amqplibConfirmChannel(connection);
        publisher.sendToQueue(queue, Buffer.from('held'));
        await publisher.waitForConfirms();
        const inbox = new Inbox<ConsumeMessage | null>();
        await channel.consume(queue, (message) => inbox.push(message));
        await inbox.waitFor(1);
        const deleter = await amqplibChannel(await clients.amqplib());
        await deleter.deleteQueue(queue);
        const [held, cancel] = await inbox.waitFor(2);
        expect(cancel).toBeNull();
        // Acking a delivery from the deleted queue is not an error; the channel stays open.
        channel.ack(held!);
        await channel.checkExchange('amq.direct');

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        const cloudQueue = uniqueName('cq.cancelled');
        await cloudChannel.queueDeclare(cloudQueue, { durable: false });
        const consumer = await cloudChannel.basicConsume(cloudQueue, {}, () => undefined);
        await deleter.deleteQueue(cloudQueue);
        const error = await rejectionOf(consumer.wait(5000));
        expect(error.message).toContain('Consumer cancelled by the server');
      },
      T,
    );
  });

  describe('get, order, round-robin', () => {
    it(
      'basic.get returns messages with the count still ready, then get-empty (both clients)',
      async () => {
        const channel = await amqplibConfirmChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        for (const body of ['a', 'b', 'c']) channel.sendToQueue(queue, Buffer.from(body));
        await channel.waitForConfirms();
        const seen: [string, number, boolean][] = [];
        for (let i = 0; i < 3; i++) {
          const message = await channel.get(queue, { noAck: true });
          if (message === false) throw new Error('unexpected get-empty');
          seen.push([
            message.content.toString(),
            message.fields.messageCount,
            message.fields.redelivered,
          ]);
        }
        expect(seen).toEqual([
          ['a', 2, false],
          ['b', 1, false],
          ['c', 0, false],
        ]);
        expect(await channel.get(queue, { noAck: true })).toBe(false);

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        await cloudChannel.confirmSelect();
        const cloudQueue = await cloudChannel.queueDeclare('', { exclusive: true });
        await cloudChannel.basicPublish('', cloudQueue.name, 'x');
        await cloudChannel.basicPublish('', cloudQueue.name, 'y');
        const first = await cloudChannel.basicGet(cloudQueue.name, { noAck: true });
        expect([first?.bodyToString(), first?.messageCount]).toEqual(['x', 1]);
        const second = await cloudChannel.basicGet(cloudQueue.name, { noAck: true });
        expect([second?.bodyToString(), second?.messageCount]).toEqual(['y', 0]);
        expect(await cloudChannel.basicGet(cloudQueue.name, { noAck: true })).toBeNull();
        const missing = await rejectionOf(cloudChannel.basicGet(uniqueName('q.none')));
        expect(replyCodeOf(missing)).toBe(404);
      },
      T,
    );

    it(
      'messages in one queue are delivered in publish order (2000 messages, both clients)',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const inbox = new Inbox<number>();
        await channel.consume(
          queue,
          (m) => m !== null && inbox.push(Number(m.content.toString())),
          { noAck: true },
        );
        for (let i = 0; i < 2000; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
        expect(await inbox.waitFor(2000, 10_000)).toEqual(
          Array.from({ length: 2000 }, (_, i) => i),
        );

        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        const cloudQueue = await cloudChannel.queueDeclare('', { exclusive: true });
        const cloudInbox = new Inbox<number>();
        await cloudChannel.basicConsume(cloudQueue.name, { noAck: true }, (m) =>
          cloudInbox.push(Number(m.bodyToString())),
        );
        const publishes: Promise<number>[] = [];
        for (let i = 0; i < 2000; i++)
          publishes.push(cloudChannel.basicPublish('', cloudQueue.name, String(i)));
        await Promise.all(publishes);
        expect(await cloudInbox.waitFor(2000, 10_000)).toEqual(
          Array.from({ length: 2000 }, (_, i) => i),
        );
      },
      T,
    );

    it(
      'consumers of one queue take turns (round-robin), by either client',
      async () => {
        const connection = await clients.amqplib();
        const publisher = await amqplibConfirmChannel(connection);
        const { queue } = await publisher.assertQueue('', { exclusive: true });
        const inbox = new Inbox<[number, number]>();
        for (let c = 0; c < 3; c++) {
          const channel = await amqplibChannel(connection);
          await channel.consume(
            queue,
            (m) => m !== null && inbox.push([c, Number(m.content.toString())]),
            { noAck: true },
          );
        }
        for (let i = 0; i < 30; i++) publisher.sendToQueue(queue, Buffer.from(String(i)));
        const deliveries = (await inbox.waitFor(30)).slice().sort((a, b) => a[1] - b[1]);
        const counts = [0, 0, 0];
        for (const [consumer] of deliveries) counts[consumer]!++;
        expect(counts).toEqual([10, 10, 10]);
        // Strict rotation: message i and message i + 3 go to the same consumer, neighbours do not.
        for (let i = 0; i + 3 < 30; i++) {
          expect(deliveries[i + 3]![0]).toBe(deliveries[i]![0]);
          expect(deliveries[i + 1]![0]).not.toBe(deliveries[i]![0]);
        }

        const client = await clients.cloud();
        const cloudPublisher = await client.channel();
        const cloudQueue = await cloudPublisher.queueDeclare('', { exclusive: true });
        const cloudInbox = new Inbox<string>();
        await cloudPublisher.basicConsume(cloudQueue.name, { tag: 'one' }, (m) =>
          cloudInbox.push(m.consumerTag),
        );
        await cloudPublisher.basicConsume(cloudQueue.name, { tag: 'two' }, (m) =>
          cloudInbox.push(m.consumerTag),
        );
        for (let i = 0; i < 10; i++)
          await cloudPublisher.basicPublish('', cloudQueue.name, String(i));
        const tags = await cloudInbox.waitFor(10);
        expect(tags.filter((tag) => tag === 'one').length).toBe(5);
        expect(tags.filter((tag) => tag === 'two').length).toBe(5);
      },
      T,
    );
  });

  describe('large messages', () => {
    it(
      'amqplib with frame_max 4096: a 1 MiB body is split and reassembled both ways',
      async () => {
        const connection = await clients.amqplib('frameMax=4096');
        const channel = await amqplibConfirmChannel(connection);
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const body = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
        channel.sendToQueue(queue, body, { headers: { size: body.length } });
        await channel.waitForConfirms();
        const got = new Promise<ConsumeMessage>((resolve) => {
          void channel.consume(queue, (m) => m !== null && resolve(m), { noAck: true });
        });
        const message = await within(got, 10_000, 'the 1 MiB delivery');
        expect(message.content.length).toBe(body.length);
        expect(message.content.equals(body)).toBe(true);
        expect(message.properties.headers).toEqual({ size: body.length });
      },
      T,
    );

    it(
      'amqp-client with frame_max 8192: a 1 MiB body round-trips',
      async () => {
        const client = await clients.cloud('frameMax=8192');
        expect(client.frameMax).toBe(8192);
        const channel = await client.channel();
        await channel.confirmSelect();
        const queue = await channel.queueDeclare('', { exclusive: true });
        const body = new Uint8Array(1024 * 1024);
        for (let i = 0; i < body.length; i++) body[i] = (i * 13 + 1) & 0xff;
        await channel.basicPublish('', queue.name, body);
        const message = await channel.basicGet(queue.name, { noAck: true });
        expect(message?.bodySize).toBe(body.length);
        expect(Buffer.from(message!.body as Uint8Array).equals(Buffer.from(body))).toBe(true);
      },
      T,
    );

    it(
      'the server never sends a frame larger than the negotiated frame_max (raw, 4096)',
      async () => {
        const raw = await clients.raw();
        await raw.handshake({ frameMax: 4096 });
        await raw.openChannel(1);
        const queue = await raw.declareQueue(1, '', { exclusive: true });
        const body = Buffer.alloc(20_000, 0x5a);
        raw.publish(1, '', queue, body, {
          rawProperties: new Encoder().u16(0).toBuffer(),
          frameMax: 4096,
        });
        basicGet(raw, 1, queue, true);
        await raw.expectMethodFrame(1, 60, 71);
        const content = await raw.readContent(1);
        expect(content.body.equals(body)).toBe(true);
        for (const frame of content.frames)
          expect(frame.payload.length + 8).toBeLessThanOrEqual(4096);
        expect(content.frames.length).toBe(1 + Math.ceil(20_000 / 4088));
        await raw.close();
      },
      T,
    );
  });
});
