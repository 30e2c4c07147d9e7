// Raw protocol tests for framing and content assembly: garbage, oversized frames, bad frame-end
// octets, unknown frame types and methods, truncated arguments, misplaced heartbeats and content
// frames, and message size limits. Expectations follow RabbitMQ 3.13 (docs/rabbitmq-behaviour.md
// sections 1.1 and 2.6). After every test a well-behaved amqplib connection must still work.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  type AmqpMethod,
  type AmqpMethodOf,
} from '../../src/codec/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  buildFrame,
  methodPayload,
  RawClient,
  rawMethodPayload,
  SocketClosedError,
  type HandshakeOptions,
} from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

const MESSAGE_MAX_BYTES = 64 * 1024;

/** A deterministic byte stream (xorshift32), so garbage is the same on every run. */
function pseudoRandomBytes(seed: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

describe('raw: framing and content assembly', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;
  const clients: RawClient[] = [];

  /** A raw client past connection.open-ok with channel 1 open. */
  async function openClient(options: HandshakeOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
    await client.handshake(options);
    await client.openChannel(1);
    return client;
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1, messageMaxBytes: MESSAGE_MAX_BYTES });
    probe = await WellBehavedClient.open(broker.url);
    await probe.check();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await probe.check();
  });
  afterAll(async () => {
    await probe?.close();
    await broker?.close();
  });

  describe('frame errors close the connection with 501 FRAME_ERROR', () => {
    it.each([
      ['ASCII text', Buffer.from('this is not an AMQP frame at all, just some text\r\n')],
      ['0xFF bytes', Buffer.alloc(64, 0xff)],
    ])('garbage after a good handshake (%s)', { timeout: 5000 }, async (_, garbage) => {
      const client = await openClient();
      client.write(garbage);
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 501, classId: 0, methodId: 0 });
      expect(close.replyText).toMatch(/^FRAME_ERROR - /);
    });

    it(
      'pseudo-random garbage after a good handshake, for several seeds',
      { timeout: 8000 },
      async () => {
        await Promise.all(
          [1, 2, 3, 4, 5, 6, 7, 8].map(async (seed) => {
            const client = await openClient();
            client.write(pseudoRandomBytes(seed, 256));
            // Random bytes can spell any frame; whatever they spell, the answer is a hard error.
            const close = await client.expectConnectionClose(3000);
            expect(close.replyCode, `seed ${seed}: ${close.replyText}`).toBeGreaterThanOrEqual(500);
          }),
        );
      },
    );

    it(
      'a frame larger than the negotiated frame_max, rejected from its header alone',
      { timeout: 5000 },
      async () => {
        const client = await openClient({ frameMax: 4096 });
        // Only the 7-byte header: the server must not wait for 4097 payload bytes to object.
        const header = Buffer.from([FRAME_BODY, 0, 1, 0, 0, 0x10, 0x01]);
        client.write(header);
        const close = await client.expectConnectionClose();
        expect(close).toEqual({
          method: 'connection.close',
          replyCode: 501,
          replyText: 'FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}',
          classId: 0,
          methodId: 0,
        });
      },
    );

    it('a frame with a 4 GiB size field', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.write(Buffer.from([FRAME_METHOD, 0, 1, 0xff, 0xff, 0xff, 0xff]));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.replyText).toContain('frame_too_large,4294967295,');
    });

    it(
      'accepts a frame whose payload is exactly frame_max (RabbitMQ tolerates 8 bytes more)',
      { timeout: 5000 },
      async () => {
        const client = await openClient({ frameMax: 4096 });
        client.sendMethod(1, declareQueue('raw.framing.boundary'));
        await client.expectMethod('queue.declare-ok');
        const body = Buffer.alloc(4096, 0x61);
        client.sendMethod(1, publish('', 'raw.framing.boundary'));
        client.sendContentHeader(1, body.length);
        client.sendBody(1, body);
        client.sendMethod(1, { method: 'basic.get', queue: 'raw.framing.boundary', noAck: true });
        await client.expectMethod('basic.get-ok');
        const header = await client.readFrame();
        expect(header.type).toBe(FRAME_HEADER);
        let received = 0;
        while (received < body.length) {
          const frame = await client.readFrame();
          expect(frame.type).toBe(FRAME_BODY);
          // The server itself never sends more than frame_max - 8 payload bytes.
          expect(frame.payload.length).toBeLessThanOrEqual(4096 - 8);
          received += frame.payload.length;
        }
        expect(received).toBe(body.length);
        client.sendMethod(1, {
          method: 'queue.delete',
          queue: 'raw.framing.boundary',
          ifUnused: false,
          ifEmpty: false,
          noWait: false,
        });
        await client.expectMethod('queue.delete-ok');
      },
    );

    it('a bad frame-end octet', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendFrame(FRAME_METHOD, 1, methodPayload(declareQueue('raw.framing.bad-end')), 0x00);
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 501, classId: 0, methodId: 0 });
      expect(close.replyText).toMatch(/^FRAME_ERROR - type 1, /);
      expect(close.replyText).toMatch(/\{invalid_frame_end_marker,0\}$/);
    });

    it('a bad frame-end octet on a heartbeat frame', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.write(buildFrame(FRAME_HEARTBEAT, 0, Buffer.alloc(0), 0xcd));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.replyText).toMatch(/\{invalid_frame_end_marker,205\}$/);
    });

    it.each([0, 4, 7, 9, 0x41, 0xff])('unknown frame type %i', { timeout: 5000 }, async (type) => {
      const client = await openClient();
      client.sendFrame(type, 1, Buffer.from([1, 2, 3]));
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 501, classId: 0, methodId: 0 });
      expect(close.replyText).toBe(
        `FRAME_ERROR - type ${type}, all octets = <<1,2,3>>: unknown_frame`,
      );
    });

    it('a heartbeat frame with a payload', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendFrame(FRAME_HEARTBEAT, 0, Buffer.from([0]));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.replyText).toMatch(/unknown_frame$/);
    });

    it.each([0, 1, 3])(
      'a method frame of %i payload bytes (no class and method id)',
      { timeout: 5000 },
      async (bytes) => {
        const client = await openClient();
        client.sendFrame(FRAME_METHOD, 1, Buffer.alloc(bytes, 0));
        const close = await client.expectConnectionClose();
        expect(close.replyCode).toBe(501);
      },
    );
  });

  describe('undecodable methods', () => {
    it(
      'truncated queue.declare arguments at every cut point: 501 naming queue.declare',
      { timeout: 8000 },
      async () => {
        const full = methodPayload(declareQueue('raw.framing.truncated', { 'x-max-length': 10 }));
        const cuts = Array.from({ length: full.length - 4 }, (_, index) => index + 4);
        await Promise.all(
          cuts.map(async (cut) => {
            const client = await openClient();
            client.sendFrame(FRAME_METHOD, 1, full.subarray(0, cut));
            const close = await client.expectConnectionClose(3000);
            expect(close, `cut at ${cut} of ${full.length}`).toMatchObject({
              replyCode: 501,
              classId: 50,
              methodId: 10,
            });
            expect(close.replyText).toMatch(/^FRAME_ERROR - /);
          }),
        );
      },
    );

    it(
      'truncated basic.publish arguments at every cut point (the hand-written fast path)',
      { timeout: 8000 },
      async () => {
        const full = methodPayload(publish('amq.direct', 'some.routing.key'));
        const cuts = Array.from({ length: full.length - 4 }, (_, index) => index + 4);
        await Promise.all(
          cuts.map(async (cut) => {
            const client = await openClient();
            client.sendFrame(FRAME_METHOD, 1, full.subarray(0, cut));
            const close = await client.expectConnectionClose(3000);
            expect(close, `cut at ${cut} of ${full.length}`).toMatchObject({
              replyCode: 501,
              classId: 60,
              methodId: 40,
            });
          }),
        );
      },
    );

    it.each([
      ['queue.declare', methodPayload(declareQueue('raw.framing.trailing'))],
      ['basic.publish', methodPayload(publish('', 'q'))],
      ['basic.ack', methodPayload({ method: 'basic.ack', deliveryTag: 1, multiple: false })],
    ])('%s with a trailing byte', { timeout: 5000 }, async (_, payload) => {
      const client = await openClient();
      client.sendFrame(FRAME_METHOD, 1, Buffer.concat([payload, Buffer.from([0])]));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.classId).toBe(payload.readUInt16BE(0));
      expect(close.methodId).toBe(payload.readUInt16BE(2));
    });

    it('a field table whose length runs past the frame', { timeout: 5000 }, async () => {
      const client = await openClient();
      const payload = methodPayload(declareQueue('raw.framing.table'));
      // The arguments table is the last field: claim 1000 bytes where there are none.
      payload.writeUInt32BE(1000, payload.length - 4);
      client.sendFrame(FRAME_METHOD, 1, payload);
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 501, classId: 50, methodId: 10 });
    });

    it(
      'a truncated connection.start-ok ends the handshake without serving it',
      { timeout: 8000 },
      async () => {
        const client = await RawClient.connect(broker.port);
        clients.push(client);
        await client.start();
        const startOk = methodPayload({
          method: 'connection.start-ok',
          clientProperties: {},
          mechanism: 'PLAIN',
          response: Buffer.from('\u0000guest\u0000guest'),
          locale: 'en_US',
        });
        client.sendFrame(FRAME_METHOD, 0, startOk.subarray(0, startOk.length - 3));
        // RabbitMQ closes silently before the connection is open; a 501 close is acceptable too.
        const close = await readCloseOrDrop(client);
        if (close !== null) expect(close.replyCode).toBe(501);
      },
    );

    // RabbitMQ itself has no answer here: rabbit_framing lookup_method_name exits and the reader
    // process dies, dropping TCP without a close. Warren may close with 540 NOT_IMPLEMENTED or 503
    // COMMAND_INVALID instead; what it must not do is serve the connection on or crash.
    it.each([
      ['unknown class 99 on channel 1', 1, 99, 10],
      ['unknown method 999 of basic on channel 1', 1, 60, 999],
      ['unknown method 99 of connection on channel 0', 0, 10, 99],
      ['class 0 method 0 on channel 1', 1, 0, 0],
    ])('%s', { timeout: 8000 }, async (_, channel, classId, methodId) => {
      const client = await openClient();
      client.sendFrame(
        FRAME_METHOD,
        channel,
        rawMethodPayload(classId, methodId, Buffer.from([0, 0, 0])),
      );
      const close = await readCloseOrDrop(client);
      if (close !== null) expect([503, 540]).toContain(close.replyCode);
      // Either way the connection serves nothing more.
      client.sendMethod(1, {
        method: 'basic.qos',
        prefetchSize: 0,
        prefetchCount: 1,
        global: false,
      });
      await expect(client.readMethod(300)).rejects.toThrow();
    });
  });

  describe('misplaced frames close the connection with 505 UNEXPECTED_FRAME', () => {
    it('a heartbeat on an unopened non-zero channel', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendHeartbeat(5);
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
      expect(close.replyText).toMatch(/^UNEXPECTED_FRAME - /);
    });

    // Regression test. The bug was: Warren closes with 501 "FRAME_ERROR - type 8, unknown frame type": Connection.onFrame
    // hands every frame on an open channel to onChannelFrame, whose dispatcher knows only method,
    // header and body frames. RabbitMQ's handle_frame answers a heartbeat on channel N with
    // unexpected_frame (505) whether or not the channel is open.
    it('a heartbeat on an open non-zero channel', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendHeartbeat(1);
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
      expect(close.replyText).toMatch(/^UNEXPECTED_FRAME - type 8/);
    });

    it('a content header without a preceding basic.publish', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendContentHeader(1, 10);
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
      expect(close.replyText).toMatch(/^UNEXPECTED_FRAME - /);
    });

    it('a content body without a preceding basic.publish', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendBody(1, Buffer.from('body'));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
    });

    it('a content header on an unopened channel', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendContentHeader(7, 10);
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({
        replyCode: 505,
        replyText: 'UNEXPECTED_FRAME - expected method frame, got non method frame instead',
      });
    });

    it.each([
      ['content header', FRAME_HEADER],
      ['content body', FRAME_BODY],
    ])('a %s on channel 0', { timeout: 5000 }, async (_, type) => {
      const client = await openClient();
      client.sendFrame(type, 0, Buffer.alloc(14));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
    });

    it('a body frame where the content header should be', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendBody(1, Buffer.from('body'));
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 505, classId: 60, methodId: 40 });
    });

    it('a method frame where the content header should be', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendMethod(1, publish('', 'nowhere'));
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 505, classId: 60, methodId: 40 });
    });

    it('a method frame while body bytes are outstanding', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendContentHeader(1, 10);
      client.sendBody(1, Buffer.from('12345'));
      client.sendMethod(1, publish('', 'nowhere'));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
    });

    it('a content header for another class than the publish', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendContentHeader(1, 10, {}, 50);
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
    });

    it(
      'body frames exceeding the declared body size: 505, and no message is enqueued',
      { timeout: 5000 },
      async () => {
        const queue = 'raw.framing.excess';
        const client = await openClient();
        client.sendMethod(1, declareQueue(queue));
        await client.expectMethod('queue.declare-ok');
        client.sendMethod(1, publish('', queue));
        client.sendContentHeader(1, 10);
        client.sendBody(1, Buffer.from('0123456789abcdef'));
        // RabbitMQ notices at the next method frame at the latest.
        client.sendMethod(1, {
          method: 'basic.qos',
          prefetchSize: 0,
          prefetchCount: 1,
          global: false,
        });
        const close = await client.expectConnectionClose();
        expect(close.replyCode).toBe(505);
        const checker = await openClient();
        checker.sendMethod(1, { method: 'basic.get', queue, noAck: true });
        await checker.expectMethod('basic.get-empty');
        checker.sendMethod(1, {
          method: 'queue.delete',
          queue,
          ifUnused: false,
          ifEmpty: false,
          noWait: false,
        });
        await checker.expectMethod('queue.delete-ok');
      },
    );

    it('a body frame after a complete zero-size message', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendContentHeader(1, 0);
      client.sendBody(1, Buffer.from('x'));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(505);
    });
  });

  describe('message size limit: 406 PRECONDITION_FAILED closes only the channel', () => {
    it('a message above max_message_size', { timeout: 5000 }, async () => {
      const client = await openClient();
      const size = MESSAGE_MAX_BYTES + 1000;
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendContentHeader(1, size);
      client.sendBody(1, Buffer.alloc(size, 0x62));
      const close = await client.expectChannelClose(1);
      expect(close).toEqual({
        method: 'channel.close',
        replyCode: 406,
        replyText: `PRECONDITION_FAILED - message size ${size} is larger than configured max size ${MESSAGE_MAX_BYTES}`,
        classId: 60,
        methodId: 40,
      });
      client.sendMethod(1, { method: 'channel.close-ok' });
      await expectConnectionUsable(client, 1);
    });

    it('a huge declared body size, body never sent in full', { timeout: 5000 }, async () => {
      const client = await openClient();
      const size = 2 ** 40;
      client.sendMethod(1, publish('', 'nowhere'));
      client.sendContentHeader(1, size);
      client.sendBody(1, Buffer.alloc(1000, 0x62));
      const close = await client.expectChannelClose(1, 3000);
      expect(close).toMatchObject({ replyCode: 406, classId: 60, methodId: 40 });
      expect(close.replyText).toBe(
        `PRECONDITION_FAILED - message size ${size} is larger than configured max size ${MESSAGE_MAX_BYTES}`,
      );
      // More body frames of the refused message are dropped with the closing channel.
      client.sendBody(1, Buffer.alloc(1000, 0x62));
      client.sendMethod(1, { method: 'channel.close-ok' });
      await expectConnectionUsable(client, 1);
    });

    it('a message of exactly max_message_size is accepted', { timeout: 5000 }, async () => {
      const client = await openClient();
      const queue = 'raw.framing.max-size';
      client.sendMethod(1, declareQueue(queue));
      await client.expectMethod('queue.declare-ok');
      client.sendMethod(1, { method: 'confirm.select', nowait: false });
      await client.expectMethod('confirm.select-ok');
      client.publish(1, '', queue, Buffer.alloc(MESSAGE_MAX_BYTES, 0x63));
      const ack = await client.expectMethod('basic.ack');
      expect(ack.method.deliveryTag).toBe(1);
      client.sendMethod(1, {
        method: 'queue.delete',
        queue,
        ifUnused: false,
        ifEmpty: false,
        noWait: false,
      });
      const deleted = await client.expectMethod('queue.delete-ok');
      expect(deleted.method.messageCount).toBe(1);
    });
  });
});

function declareQueue(queue: string, args: Record<string, number> = {}): AmqpMethod {
  return {
    method: 'queue.declare',
    queue,
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: args,
  };
}

function publish(exchange: string, routingKey: string): AmqpMethod {
  return { method: 'basic.publish', exchange, routingKey, mandatory: false, immediate: false };
}

/** The server's connection.close, or null when it dropped the socket without one. */
async function readCloseOrDrop(
  client: RawClient,
): Promise<AmqpMethodOf<'connection.close'> | null> {
  try {
    return await client.expectConnectionClose(4000);
  } catch (error) {
    if (error instanceof SocketClosedError) return null;
    throw error;
  }
}

/** Reopens `channel` after a channel error and round-trips a message through a new queue. */
async function expectConnectionUsable(client: RawClient, channel: number): Promise<void> {
  await client.openChannel(channel);
  client.sendMethod(channel, {
    method: 'queue.declare',
    queue: '',
    passive: false,
    durable: false,
    exclusive: true,
    autoDelete: false,
    noWait: false,
    arguments: {},
  });
  const declared = await client.expectMethod('queue.declare-ok');
  client.publish(channel, '', declared.method.queue, Buffer.from('still alive'));
  client.sendMethod(channel, { method: 'basic.get', queue: declared.method.queue, noAck: true });
  await client.expectMethod('basic.get-ok');
  const header = await client.readFrame();
  expect(header.type).toBe(FRAME_HEADER);
  const body = await client.readFrame();
  expect(body.payload.toString()).toBe('still alive');
}
