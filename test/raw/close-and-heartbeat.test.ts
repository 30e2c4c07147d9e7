// Raw protocol tests for the connection close handshake and heartbeats: a client that never
// answers connection.close, one that answers it, crossing closes, client-initiated closes, and
// heartbeat timeouts. Expectations follow RabbitMQ 3.13 (docs/rabbitmq-behaviour.md sections 1.3,
// 1.4 and 2.4 "Heartbeats"). After every test a well-behaved amqplib connection must still work.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpMethod, FRAME_HEARTBEAT } from '../../src/codec/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient, type HandshakeOptions } from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

describe('raw: close handshake and heartbeats', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;
  const clients: RawClient[] = [];

  async function openClient(options: HandshakeOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
    await client.handshake(options);
    await client.openChannel(1);
    return client;
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1 });
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

  describe('server-initiated close', () => {
    it(
      'drops the socket within a few seconds when the client never sends close-ok',
      { timeout: 10_000 },
      async () => {
        // RabbitMQ waits ~3 s after a fatal frame error, and `heartbeat` seconds (when below 30)
        // after any other error; both cases run side by side.
        const afterFrameError = (async () => {
          const client = await openClient();
          client.sendFrame(1, 1, Buffer.from([0, 50, 0, 10]), 0x00);
          expect((await client.expectConnectionClose()).replyCode).toBe(501);
          return client.waitForClose(6000);
        })();
        const afterChannelError = (async () => {
          const client = await openClient({ heartbeat: 2 });
          client.sendMethod(9, {
            method: 'basic.qos',
            prefetchSize: 0,
            prefetchCount: 1,
            global: false,
          });
          expect((await client.expectConnectionClose()).replyCode).toBe(504);
          // Everything but close-ok is ignored now: no qos-ok, no channel.open-ok.
          client.sendMethod(1, {
            method: 'basic.qos',
            prefetchSize: 0,
            prefetchCount: 1,
            global: false,
          });
          client.sendMethod(2, { method: 'channel.open' });
          client.sendHeartbeat();
          await expect(client.readMethod(300)).rejects.toThrow();
          return client.waitForClose(6000);
        })();
        const [frameErrorCloseMs, channelErrorCloseMs] = await Promise.all([
          afterFrameError,
          afterChannelError,
        ]);
        expect(frameErrorCloseMs).toBeLessThan(5000);
        expect(channelErrorCloseMs).toBeLessThan(5000);
      },
    );

    // Regression test. The bug was: Connection.fail() halts the FrameReader (and the reader halts itself when a frame
    // error escapes push()), so onMethodWhileClosing never sees the client's close-ok and the
    // socket lingers for CLOSE_OK_TIMEOUT_MS (3 s). RabbitMQ closes the socket as soon as
    // close-ok arrives (rabbit_reader "closed" state, docs section 1.3).
    it(
      'closes the socket at once when the client answers close-ok',
      { timeout: 5000 },
      async () => {
        const client = await openClient();
        client.sendMethod(9, {
          method: 'basic.qos',
          prefetchSize: 0,
          prefetchCount: 1,
          global: false,
        });
        expect((await client.expectConnectionClose()).replyCode).toBe(504);
        client.sendMethod(0, { method: 'connection.close-ok' });
        const closedAfterMs = await client.waitForClose(1000);
        expect(closedAfterMs).toBeLessThan(1000);
      },
    );

    // Regression test. The bug was: same cause as above; RabbitMQ answers a crossing connection.close with close-ok.
    it('answers a crossing connection.close with close-ok', { timeout: 5000 }, async () => {
      const client = await openClient();
      client.sendMethod(9, {
        method: 'basic.qos',
        prefetchSize: 0,
        prefetchCount: 1,
        global: false,
      });
      expect((await client.expectConnectionClose()).replyCode).toBe(504);
      client.sendMethod(0, {
        method: 'connection.close',
        replyCode: 200,
        replyText: 'crossing',
        classId: 0,
        methodId: 0,
      });
      await client.expectMethod('connection.close-ok', 1000);
    });
  });

  describe('client-initiated close', () => {
    /** Sends queue.declare, then connection.close followed by a basic.qos; reads close-ok. */
    async function closeFromClient(client: RawClient): Promise<void> {
      client.sendMethod(1, {
        method: 'queue.declare',
        queue: '',
        passive: false,
        durable: false,
        exclusive: true,
        autoDelete: false,
        noWait: false,
        arguments: {},
      });
      await client.expectMethod('queue.declare-ok');
      client.sendMethod(0, {
        method: 'connection.close',
        replyCode: 200,
        replyText: 'bye',
        classId: 0,
        methodId: 0,
      });
      client.sendMethod(1, {
        method: 'basic.qos',
        prefetchSize: 0,
        prefetchCount: 1,
        global: false,
      });
      const closeOk = await client.expectMethod('connection.close-ok');
      expect(closeOk.channel).toBe(0);
    }

    // Regression test. The bug was: Warren ended the socket right after close-ok, so a client
    // reader could meet EOF before close-ok (amqp091-go reported 501 EOF about 1 time in 2).
    // RabbitMQ leaves the socket for the client to close once it has read close-ok.
    it(
      'answers connection.close with close-ok, ignores later frames, and leaves the socket to the client',
      { timeout: 5000 },
      async () => {
        const client = await openClient();
        await closeFromClient(client);
        // Nothing after close-ok but heartbeats; in particular no basic.qos-ok.
        const deadline = Date.now() + 1000;
        while (Date.now() < deadline) {
          const frame = await client.readFrame(deadline - Date.now()).catch(() => null);
          if (frame === null) break;
          expect(frame.type).toBe(FRAME_HEARTBEAT);
        }
        expect(client.isClosed).toBe(false);
        client.destroy();
      },
    );

    it(
      'drops the socket itself 10 s after close-ok when the client never closes it',
      { timeout: 15_000 },
      async () => {
        const client = await openClient();
        await closeFromClient(client);
        const closedAfterMs = await client.waitForClose(12_000);
        expect(closedAfterMs).toBeGreaterThan(9000);
      },
    );
  });

  describe('abrupt disconnects', () => {
    it(
      'a dropped socket deletes its exclusive queues and requeues its unacked messages',
      { timeout: 5000 },
      async () => {
        const owner = await openClient();
        const declare = (queue: string, exclusive: boolean): AmqpMethod => ({
          method: 'queue.declare',
          queue,
          passive: false,
          durable: false,
          exclusive,
          autoDelete: false,
          noWait: false,
          arguments: {},
        });
        owner.sendMethod(1, declare('raw.close.exclusive', true));
        await owner.expectMethod('queue.declare-ok');
        owner.sendMethod(1, declare('raw.close.shared', false));
        await owner.expectMethod('queue.declare-ok');
        owner.publish(1, '', 'raw.close.shared', Buffer.from('held'));
        owner.sendMethod(1, { method: 'basic.get', queue: 'raw.close.shared', noAck: false });
        const got = await owner.expectMethod('basic.get-ok');
        expect(got.method.redelivered).toBe(false);
        owner.destroy();

        const checker = await openClient();
        // The server notices the drop asynchronously: poll until the exclusive queue is gone.
        const deadline = Date.now() + 3000;
        for (let channel = 2; ; channel++) {
          await checker.openChannel(channel);
          checker.sendMethod(channel, {
            ...declare('raw.close.exclusive', false),
            passive: true,
          } as AmqpMethod);
          const reply = await checker.readMethod();
          if (reply.method.method === 'channel.close') {
            expect(reply.method).toMatchObject({ replyCode: 404 });
            checker.sendMethod(channel, { method: 'channel.close-ok' });
            break;
          }
          expect(Date.now(), 'the exclusive queue outlived its connection').toBeLessThan(deadline);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        checker.sendMethod(1, { method: 'basic.get', queue: 'raw.close.shared', noAck: true });
        const again = await checker.expectMethod('basic.get-ok');
        expect(again.method.redelivered).toBe(true);
        expect((await checker.readContent()).body.toString()).toBe('held');
        checker.sendMethod(1, {
          method: 'queue.delete',
          queue: 'raw.close.shared',
          ifUnused: false,
          ifEmpty: false,
          noWait: false,
        });
        await checker.expectMethod('queue.delete-ok');
      },
    );
  });

  describe('heartbeats', () => {
    it(
      'disconnects a client that negotiated heartbeat=1 and went silent, without a close frame',
      { timeout: 8000 },
      async () => {
        const client = await openClient({ heartbeat: 1 });
        const silentFromMs = Date.now();
        const frames: number[] = [];
        let isClosed = false;
        while (!isClosed) {
          try {
            frames.push((await client.readFrame(5000)).type);
          } catch {
            isClosed = client.isClosed;
            if (!isClosed) throw new Error('the server kept a silent heartbeat=1 client for 5 s');
          }
        }
        const silentForMs = Date.now() - silentFromMs;
        // RabbitMQ: two missed checks of `heartbeat` seconds each, so 2 to 3 s; allow scheduling slack.
        expect(silentForMs).toBeGreaterThanOrEqual(1000);
        expect(silentForMs).toBeLessThan(4500);
        // The server kept sending its own heartbeats, and never a connection.close.
        expect(frames.length).toBeGreaterThanOrEqual(1);
        expect(frames.every((type) => type === FRAME_HEARTBEAT)).toBe(true);
      },
    );

    it(
      'keeps a heartbeat=1 client that sends heartbeats, and a silent heartbeat=0 one',
      { timeout: 8000 },
      async () => {
        const silent = await openClient({ heartbeat: 0 });
        const client = await openClient({ heartbeat: 1 });
        let received = 0;
        const timer = setInterval(() => client.sendHeartbeat(), 400);
        try {
          const deadline = Date.now() + 3500;
          while (Date.now() < deadline) {
            const frame = await client.readFrame(2000);
            expect(frame.type).toBe(FRAME_HEARTBEAT);
            expect(frame.channel).toBe(0);
            received++;
          }
        } finally {
          clearInterval(timer);
        }
        expect(client.isClosed).toBe(false);
        expect(received).toBeGreaterThanOrEqual(2);
        client.sendMethod(1, {
          method: 'basic.qos',
          prefetchSize: 0,
          prefetchCount: 1,
          global: false,
        });
        await client.expectMethod('basic.qos-ok');
        // With heartbeats off the server neither sends heartbeats nor times the client out.
        expect(silent.isClosed).toBe(false);
        expect(silent.bufferedBytes).toBe(0);
        silent.sendMethod(1, {
          method: 'basic.qos',
          prefetchSize: 0,
          prefetchCount: 1,
          global: false,
        });
        await silent.expectMethod('basic.qos-ok');
      },
    );
  });
});
