// Raw protocol tests for malformed content properties: a content header whose property list
// cannot be decoded. RabbitMQ decodes the properties of every publish (rabbit_binary_parser
// ensure_content_decoded, with no error handling), so such a publish crashes the channel process,
// which the reader turns into connection.close 541 INTERNAL_ERROR; nothing is enqueued and no
// consumer ever sees the bad bytes. After every test a well-behaved amqplib connection must work.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_HEADER, type AmqpMethod } from '../../src/codec/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { buildFrame, RawClient } from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

/** A content header frame for class 60 with `properties` as the raw property bytes. */
function contentHeaderFrame(channel: number, bodySize: number, properties: Buffer): Buffer {
  const payload = Buffer.alloc(12 + properties.length);
  payload.writeUInt16BE(60, 0);
  payload.writeUInt16BE(0, 2);
  payload.writeBigUInt64BE(BigInt(bodySize), 4);
  properties.copy(payload, 12);
  return buildFrame(FRAME_HEADER, channel, payload);
}

/** Flags word 0x8000 (content-type) with a shortstr that claims 200 bytes and has 3. */
const OVERRUNNING_CONTENT_TYPE = Buffer.from([0x80, 0x00, 200, 0x61, 0x62, 0x63]);
/** Flags word 0x2000 (headers): a 5-byte table holding key "abc" with the unknown type 'Z'. */
const UNDECODABLE_HEADERS = Buffer.from([0x20, 0x00, 0, 0, 0, 5, 3, 0x61, 0x62, 0x63, 0x5a]);

describe('raw: malformed content properties', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;
  const clients: RawClient[] = [];

  async function openClient(): Promise<RawClient> {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
    await client.handshake();
    await client.openChannel(1);
    return client;
  }

  /** Sends `method` on channel 1 and waits for `reply`. */
  async function call(
    client: RawClient,
    method: AmqpMethod,
    reply: AmqpMethod['method'],
  ): Promise<void> {
    client.sendMethod(1, method);
    await client.expectMethod(reply);
  }

  async function declareQueue(client: RawClient, queue: string): Promise<void> {
    await call(
      client,
      {
        method: 'queue.declare',
        queue,
        passive: false,
        durable: false,
        exclusive: false,
        autoDelete: false,
        noWait: false,
        arguments: {},
      },
      'queue.declare-ok',
    );
  }

  async function declareExchange(client: RawClient, exchange: string, type: string): Promise<void> {
    await call(
      client,
      {
        method: 'exchange.declare',
        exchange,
        type,
        passive: false,
        durable: false,
        autoDelete: false,
        internal: false,
        noWait: false,
        arguments: {},
      },
      'exchange.declare-ok',
    );
  }

  async function expectQueueEmpty(client: RawClient, queue: string): Promise<void> {
    client.sendMethod(1, { method: 'basic.get', queue, noAck: true });
    const reply = await client.readMethod();
    expect(reply.method.method, `queue ${queue}`).toBe('basic.get-empty');
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
    probe = await WellBehavedClient.open(broker.url);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await probe.check();
  });
  afterAll(async () => {
    await probe?.close();
    await broker?.close();
  });

  // Regression test. The bug was: Warren never validates the property list of a publish (validateProperties exists in
  // codec/properties.ts but nothing in net calls it). The bytes are stored and handed to
  // consumers, whose clients then fail to parse the content header.
  it(
    'refuses a publish whose properties overrun the frame, enqueueing nothing',
    { timeout: 5000 },
    async () => {
      const admin = await openClient();
      await declareQueue(admin, 'raw.props.overrun');
      const client = await openClient();
      client.sendMethod(1, {
        method: 'basic.publish',
        exchange: '',
        routingKey: 'raw.props.overrun',
        mandatory: false,
        immediate: false,
      });
      client.write(contentHeaderFrame(1, 4, OVERRUNNING_CONTENT_TYPE));
      client.sendBody(1, Buffer.from('body'));
      const close = await client.expectConnectionClose(1000);
      expect(close.replyCode).toBeGreaterThanOrEqual(500);
      await expectQueueEmpty(admin, 'raw.props.overrun');
    },
  );

  it(
    'closes the connection on headers that cannot be decoded for a headers exchange',
    { timeout: 5000 },
    async () => {
      const admin = await openClient();
      await declareExchange(admin, 'raw.props.h', 'headers');
      await declareQueue(admin, 'raw.props.qh');
      await call(
        admin,
        {
          method: 'queue.bind',
          queue: 'raw.props.qh',
          exchange: 'raw.props.h',
          routingKey: '',
          noWait: false,
          arguments: { 'x-match': 'any', abc: 1 },
        },
        'queue.bind-ok',
      );
      const client = await openClient();
      client.sendMethod(1, {
        method: 'basic.publish',
        exchange: 'raw.props.h',
        routingKey: '',
        mandatory: false,
        immediate: false,
      });
      client.write(contentHeaderFrame(1, 4, UNDECODABLE_HEADERS));
      client.sendBody(1, Buffer.from('body'));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBeGreaterThanOrEqual(500);
      await expectQueueEmpty(admin, 'raw.props.qh');
    },
  );

  // Regression test. The bug was: Router.route() keeps its exchanges-to-visit stack in a field and does not clear it when
  // a headers exchange throws while decoding the headers. The exchanges left on it are visited by
  // the NEXT publish, from any connection, so that publish reaches queues it was never routed to.
  it(
    'a failed publish leaves no routing state behind for the next publish',
    { timeout: 5000 },
    async () => {
      const admin = await openClient();
      // fan -> (x1, h, x2); x1 and x2 are fanouts into q; h is a headers exchange with a binding.
      await declareExchange(admin, 'raw.props.fan', 'fanout');
      await declareExchange(admin, 'raw.props.x1', 'fanout');
      await declareExchange(admin, 'raw.props.x2', 'fanout');
      await declareExchange(admin, 'raw.props.h2', 'headers');
      await declareExchange(admin, 'raw.props.unbound', 'topic');
      await declareQueue(admin, 'raw.props.q');
      await declareQueue(admin, 'raw.props.qh2');
      for (const source of ['raw.props.x1', 'raw.props.x2']) {
        await call(
          admin,
          {
            method: 'queue.bind',
            queue: 'raw.props.q',
            exchange: source,
            routingKey: '',
            noWait: false,
            arguments: {},
          },
          'queue.bind-ok',
        );
      }
      await call(
        admin,
        {
          method: 'queue.bind',
          queue: 'raw.props.qh2',
          exchange: 'raw.props.h2',
          routingKey: '',
          noWait: false,
          arguments: { abc: 1 },
        },
        'queue.bind-ok',
      );
      for (const destination of ['raw.props.x1', 'raw.props.h2', 'raw.props.x2']) {
        await call(
          admin,
          {
            method: 'exchange.bind',
            destination,
            source: 'raw.props.fan',
            routingKey: '',
            noWait: false,
            arguments: {},
          },
          'exchange.bind-ok',
        );
      }
      const bad = await openClient();
      bad.sendMethod(1, {
        method: 'basic.publish',
        exchange: 'raw.props.fan',
        routingKey: '',
        mandatory: false,
        immediate: false,
      });
      bad.write(contentHeaderFrame(1, 4, UNDECODABLE_HEADERS));
      bad.sendBody(1, Buffer.from('body'));
      expect((await bad.expectConnectionClose()).replyCode).toBeGreaterThanOrEqual(500);
      await expectQueueEmpty(admin, 'raw.props.q');

      // An unrelated publish to an exchange without bindings must go nowhere: mandatory returns it.
      const good = await openClient();
      await call(good, { method: 'confirm.select', nowait: false }, 'confirm.select-ok');
      good.publish(1, 'raw.props.unbound', 'no.binding', Buffer.from('lost'), { mandatory: true });
      const reply = await good.readMethod();
      await expectQueueEmpty(admin, 'raw.props.q');
      expect(reply.method).toMatchObject({
        method: 'basic.return',
        replyCode: 312,
        replyText: 'NO_ROUTE',
      });
    },
  );
});
