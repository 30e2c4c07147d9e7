// Raw protocol tests for the connection handshake: the protocol header, authentication, tune-ok
// validation, connection.open and the channel limit. Expectations follow RabbitMQ 3.13
// (docs/rabbitmq-behaviour.md sections 1.5, 2.1 to 2.5 and 3). After every test a well-behaved
// amqplib connection must still work.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeMethod, PROTOCOL_HEADER } from '../../src/codec/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { type HandshakeOptions, RawClient } from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

/** RabbitMQ drops a failed handshake after about 3 s (SILENT_CLOSE_DELAY); allow some slack. */
const SILENT_CLOSE_MS = 5000;

describe('raw: connection handshake', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;
  const clients: RawClient[] = [];

  async function connect(): Promise<RawClient> {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
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

  it.each([
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['AMQP 0-9-2', Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2])],
    ['AMQP 1.0', Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])],
    ['AMQP 1.0 SASL', Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0])],
    ['eight zero bytes', Buffer.alloc(8)],
  ])(
    'answers a wrong protocol header (%s) with AMQP 0-9-1 and closes',
    { timeout: 5000 },
    async (_, header) => {
      const client = await connect();
      client.write(header);
      const reply = await client.readUntilClose(3000);
      expect(reply).toEqual(PROTOCOL_HEADER);
    },
  );

  // Regression test. The bug was: Warren answers this header with its own and closes. RabbitMQ's rabbit_reader handshake/2
  // starts a 0-9-1 connection for it ("the protocol header for 0-9 ... treat as though 0-9-1").
  it(
    'treats the AMQP 0-9 header (AMQP 1 1 0 9) as 0-9-1, as RabbitMQ does',
    { timeout: 5000 },
    async () => {
      const client = await connect();
      client.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]));
      const start = await client.expectMethod('connection.start');
      expect(start.channel).toBe(0);
      expect(start.method.versionMajor).toBe(0);
      expect(start.method.versionMinor).toBe(9);
    },
  );

  it(
    'accepts a protocol header and handshake split into single bytes',
    { timeout: 5000 },
    async () => {
      const client = await connect();
      for (const byte of PROTOCOL_HEADER) {
        client.write(Buffer.from([byte]));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const start = await client.expectMethod('connection.start');
      expect(start.method.mechanisms.toString().split(' ')).toContain('PLAIN');
      expect(start.method.locales.toString()).toBe('en_US');
      client.sendStartOk();
      const tune = await client.expectMethod('connection.tune');
      expect(tune.method).toMatchObject({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
      client.sendTuneOk(tune.method);
      client.sendMethod(0, { method: 'connection.open', virtualHost: '/' });
      await client.expectMethod('connection.open-ok');
      await client.openChannel(1);
    },
  );

  it(
    'refuses a wrong password with 403 when the client has authentication_failure_close',
    { timeout: 8000 },
    async () => {
      const client = await connect();
      await client.start();
      client.sendStartOk({
        password: 'wrong',
        capabilities: { authentication_failure_close: true },
      });
      const close = await client.expectConnectionClose();
      expect(close).toEqual({
        method: 'connection.close',
        replyCode: 403,
        replyText:
          'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
        classId: 0,
        methodId: 0,
      });
      await client.waitForClose(SILENT_CLOSE_MS);
    },
  );

  it(
    'drops the socket without a frame on a wrong password when the client lacks the capability',
    { timeout: 8000 },
    async () => {
      const client = await connect();
      await client.start();
      client.sendStartOk({ password: 'wrong', capabilities: {} });
      const rest = await client.readUntilClose(SILENT_CLOSE_MS);
      expect(rest.length).toBe(0);
    },
  );

  // Regression test. The bug was: Warren destroys the socket at once. RabbitMQ raises the auth failure out of the securing
  // state, which closes silently only after SILENT_CLOSE_DELAY (3 s) so that a client cannot
  // guess passwords at full speed (rabbit_reader handle_exception, last clause).
  it(
    'delays dropping a failed login by about 3 s, against password guessing',
    { timeout: 8000 },
    async () => {
      const client = await connect();
      await client.start();
      client.sendStartOk({ password: 'wrong', capabilities: {} });
      const closedAfterMs = await client.waitForClose(SILENT_CLOSE_MS);
      expect(closedAfterMs).toBeGreaterThanOrEqual(2000);
    },
  );

  it('treats an unknown user like a wrong password', { timeout: 8000 }, async () => {
    const client = await connect();
    await client.start();
    client.sendStartOk({
      user: 'nobody',
      password: 'guest',
      capabilities: { authentication_failure_close: true },
    });
    const close = await client.expectConnectionClose();
    expect(close.replyCode).toBe(403);
    expect(close.replyText).toMatch(
      /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
    );
  });

  it('refuses a blank password', { timeout: 8000 }, async () => {
    const client = await connect();
    await client.start();
    client.sendStartOk({ password: '', capabilities: { authentication_failure_close: true } });
    const close = await client.expectConnectionClose();
    expect(close.replyCode).toBe(403);
  });

  it(
    'closes with 530 NOT_ALLOWED on connection.open to an unknown vhost',
    { timeout: 8000 },
    async () => {
      const client = await connect();
      await client.start();
      client.sendStartOk();
      const tune = await client.expectMethod('connection.tune');
      client.sendTuneOk(tune.method);
      client.sendMethod(0, { method: 'connection.open', virtualHost: 'no-such-vhost' });
      const close = await client.expectConnectionClose();
      expect(close).toEqual({
        method: 'connection.close',
        replyCode: 530,
        replyText: 'NOT_ALLOWED - vhost no-such-vhost not found',
        classId: 10,
        methodId: 40,
      });
      // That close-ok ends the socket at once is tested in close-and-heartbeat.test.ts.
      client.sendMethod(0, { method: 'connection.close-ok' });
    },
  );

  it(
    'refuses tune-ok values out of range with a 530 close or a silent drop, and nothing else',
    { timeout: 8000 },
    async () => {
      const cases: [string, HandshakeOptions][] = [
        ['frame_max above the server maximum', { frameMax: 131072 + 1 }],
        ['frame_max below 4096', { frameMax: 4095 }],
        ['channel_max above the server maximum', { channelMax: 2048 }],
      ];
      // Side by side, since each takes RabbitMQ's ~3 s silent-close delay.
      await Promise.all(
        cases.map(async ([what, values]) => {
          const client = await connect();
          await client.start();
          client.sendStartOk();
          const tune = await client.expectMethod('connection.tune');
          client.sendTuneOk(tune.method, values);
          client.sendMethod(0, { method: 'connection.open', virtualHost: '/' });
          // RabbitMQ drops the socket silently after ~3 s; a connection.close 530 is acceptable.
          const rest = await client.readUntilClose(SILENT_CLOSE_MS);
          if (rest.length > 0) {
            const frameSize = rest.readUInt32BE(3);
            expect(rest.length, what).toBe(frameSize + 8);
            const method = decodeMethod(rest, 7, 7 + frameSize);
            expect(method, what).toMatchObject({ method: 'connection.close', replyCode: 530 });
          }
        }),
      );
    },
  );

  it(
    'refuses a channel beyond the negotiated channel_max count with 530',
    { timeout: 5000 },
    async () => {
      const client = await connect();
      await client.handshake({ channelMax: 2 });
      await client.openChannel(1);
      await client.openChannel(2);
      client.sendMethod(3, { method: 'channel.open' });
      const close = await client.expectConnectionClose();
      expect(close).toEqual({
        method: 'connection.close',
        replyCode: 530,
        replyText:
          'NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)',
        classId: 0,
        methodId: 0,
      });
    },
  );

  it('limits the channel count, not the channel number', { timeout: 5000 }, async () => {
    const client = await connect();
    await client.handshake({ channelMax: 2 });
    await client.openChannel(100);
    await client.openChannel(65535);
  });

  it(
    'closes with 504 on a non-connection method on channel 0 once open',
    { timeout: 5000 },
    async () => {
      const client = await connect();
      await client.handshake();
      client.sendMethod(0, {
        method: 'basic.qos',
        prefetchSize: 0,
        prefetchCount: 10,
        global: false,
      });
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({
        replyCode: 504,
        replyText: 'CHANNEL_ERROR - unexpected method in connection state running',
      });
    },
  );

  it(
    'ends a handshake that sends methods out of order without serving it',
    { timeout: 8000 },
    async () => {
      const client = await connect();
      await client.start();
      // connection.open before start-ok: RabbitMQ drops the socket silently after ~3 s.
      client.sendMethod(0, { method: 'connection.open', virtualHost: '/' });
      const rest = await client.readUntilClose(SILENT_CLOSE_MS);
      if (rest.length > 0) {
        // Not RabbitMQ's silent close, but acceptable: one connection.close with a hard error.
        const method = decodeMethod(rest, 7, 7 + rest.readUInt32BE(3));
        expect(method.method).toBe('connection.close');
        expect((method as { replyCode: number }).replyCode).toBeGreaterThanOrEqual(500);
      }
    },
  );
});
