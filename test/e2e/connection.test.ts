// End-to-end: the connection handshake as clients see it. PLAIN and AMQPLAIN logins, refused
// logins (403 close only for clients that advertise authentication_failure_close), tuning and
// heartbeats, server properties and capabilities, vhost access (530) and a clean close.
// Reference: docs/rabbitmq-behaviour.md sections 1.5 and 2.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS, sleep } from '../helpers/broker.js';
import {
  amqplibChannel,
  nextEvent,
  rejectionOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';
import { decodeClose, FRAME_HEARTBEAT } from '../helpers/wire.js';

const T = TEST_TIMEOUT_MS;

/** Definitions: guest everywhere; alice only on '/'; a second vhost 'other'. */
function writeDefinitions(): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-e2e-connection-'));
  const file = join(dir, 'definitions.json');
  writeFileSync(
    file,
    JSON.stringify({
      users: [
        { name: 'guest', password: 'guest', tags: ['administrator'] },
        { name: 'alice', password: 'alice-secret', tags: [] },
      ],
      vhosts: [{ name: '/' }, { name: 'other' }],
      permissions: [
        { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        { user: 'guest', vhost: 'other', configure: '.*', write: '.*', read: '.*' },
        { user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' },
      ],
    }),
  );
  return file;
}

/** Reply code from a handshake failure, whichever way the client words it. */
function handshakeReplyCode(error: Error): number | undefined {
  const patterns = [
    /Handshake terminated by server: (\d{3})/,
    /replyCode: (\d{3})/,
    /\((\d{3})\)\s*$/,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(error.message);
    if (match !== null) return Number(match[1]);
  }
  return (error as { code?: number }).code;
}

const LOGIN_REFUSED_PLAIN =
  'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.';

describe.each(SHARD_COUNTS)('connection (%i shards)', (shardCount) => {
  const definitionsFile = writeDefinitions();
  const broker = useBroker(shardCount, { definitionsFile });
  const clients = useClients(broker);

  describe('handshake and server properties', () => {
    it(
      'amqplib logs in with PLAIN and sees the server properties and capabilities',
      async () => {
        const connection = await clients.amqplib();
        const properties = connection.connection.serverProperties as unknown as Record<
          string,
          unknown
        >;
        for (const key of ['product', 'version', 'platform', 'copyright', 'information']) {
          expect(typeof properties[key], key).toBe('string');
        }
        const capabilities = properties['capabilities'] as Record<string, unknown>;
        // What Warren implements must be advertised exactly as RabbitMQ does (all true).
        for (const capability of [
          'publisher_confirms',
          'exchange_exchange_bindings',
          'basic.nack',
          'consumer_cancel_notify',
          'authentication_failure_close',
          'per_consumer_qos',
        ]) {
          expect(capabilities[capability], capability).toBe(true);
        }
        const channel = await amqplibChannel(connection);
        const { queue } = await channel.assertQueue('', { exclusive: true });
        expect(channel.sendToQueue(queue, Buffer.from('hello'))).toBe(true);
        const message = await channel.get(queue, { noAck: true });
        expect(message !== false && message.content.toString()).toBe('hello');
      },
      T,
    );

    it(
      'amqp-client logs in with PLAIN and negotiates channel_max and frame_max with the server',
      async () => {
        const client = await clients.cloud('frameMax=16384&heartbeat=7');
        // amqp-client takes the smaller of its wish and the server's offer (2047, 131072, 60).
        expect(client.channelMax).toBe(2047);
        expect(client.frameMax).toBe(16384);
        expect(client.heartbeat).toBe(7);
        const channel = await client.channel();
        const queue = await channel.queueDeclare('', { exclusive: true });
        await channel.basicPublish('', queue.name, 'hello');
        const message = await channel.basicGet(queue.name, { noAck: true });
        expect(message?.bodyToString()).toBe('hello');
      },
      T,
    );

    it(
      'connection.start offers 0-9, PLAIN and AMQPLAIN, en_US, string properties and a capabilities table',
      async () => {
        const raw = await clients.raw();
        raw.sendProtocolHeader();
        const start = await raw.readStart();
        expect(start.versionMajor).toBe(0);
        expect(start.versionMinor).toBe(9);
        expect(start.mechanisms.split(' ').sort()).toEqual(['AMQPLAIN', 'PLAIN']);
        expect(start.locales.split(' ')).toContain('en_US');
        const properties = start.serverProperties;
        for (const key of [
          'product',
          'version',
          'platform',
          'copyright',
          'information',
          'cluster_name',
        ]) {
          expect(properties[key]?.type, key).toBe('S');
        }
        expect(properties['capabilities']?.type).toBe('F');
        const capabilities = properties['capabilities']!.value as Record<
          string,
          { type: string; value: unknown }
        >;
        for (const [name, entry] of Object.entries(capabilities)) {
          expect(entry.type, name).toBe('t');
        }
        expect(capabilities['publisher_confirms']).toEqual({ type: 't', value: true });
        expect(capabilities['authentication_failure_close']).toEqual({ type: 't', value: true });
      },
      T,
    );

    it(
      "connection.tune proposes RabbitMQ's defaults and open-ok follows the client's tune-ok",
      async () => {
        const raw = await clients.raw();
        const { tune } = await raw.handshake({ frameMax: 4096, channelMax: 16 });
        expect(tune).toEqual({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
        await raw.openChannel(1);
        await raw.openChannel(16);
        await raw.close();
      },
      T,
    );

    it(
      'amqplib logs in with AMQPLAIN',
      async () => {
        const connection = await clients.amqplib('', {
          credentials: amqp.credentials.amqplain('guest', 'guest'),
        });
        const channel = await amqplibChannel(connection);
        const { queue } = await channel.assertQueue('', { exclusive: true });
        expect(queue).toMatch(/^amq\.gen-/);
      },
      T,
    );

    it(
      'a raw AMQPLAIN login succeeds; a wrong AMQPLAIN password gets 403 naming AMQPLAIN',
      async () => {
        const good = await clients.raw();
        await good.handshake({ mechanism: 'AMQPLAIN', user: 'alice', password: 'alice-secret' });
        await good.close();

        const bad = await clients.raw();
        bad.sendProtocolHeader();
        await bad.readStart();
        bad.sendStartOk({ mechanism: 'AMQPLAIN', user: 'alice', password: 'wrong' });
        const close = decodeClose(await bad.expectMethodFrame(0, 10, 50));
        expect(close).toEqual({
          replyCode: 403,
          replyText:
            'ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN. For details see the broker logfile.',
          classId: 0,
          methodId: 0,
        });
      },
      T,
    );
  });

  describe('refused logins', () => {
    it(
      'amqplib with a wrong password is refused with 403 ACCESS_REFUSED',
      async () => {
        const error = await rejectionOf(amqp.connect(clients.url('', 'guest:wrong')));
        expect(handshakeReplyCode(error)).toBe(403);
        expect(error.message).toContain(LOGIN_REFUSED_PLAIN);
      },
      T,
    );

    it(
      'amqp-client with a wrong password or unknown user is refused with 403',
      async () => {
        for (const credentials of ['guest:wrong', 'nobody:guest', 'alice:']) {
          const client = new AMQPClient(clients.url('', credentials));
          client.onerror = () => undefined;
          const error = await rejectionOf(client.connect());
          expect(handshakeReplyCode(error), credentials).toBe(403);
          client.socket?.destroy();
        }
      },
      T,
    );

    it(
      'a refused client that advertised authentication_failure_close gets connection.close 403 (0/0)',
      async () => {
        const raw = await clients.raw();
        raw.sendProtocolHeader();
        await raw.readStart();
        raw.sendStartOk({
          user: 'guest',
          password: 'nope',
          capabilities: { authentication_failure_close: true },
        });
        const close = decodeClose(await raw.expectMethodFrame(0, 10, 50));
        expect(close).toEqual({
          replyCode: 403,
          replyText: LOGIN_REFUSED_PLAIN,
          classId: 0,
          methodId: 0,
        });
        // The connection never opens: nothing but the close may follow.
        raw.sendRawMethod(0, 10, 51);
        expect(raw.drainFrames()).toEqual([]);
      },
      T,
    );

    it(
      'a refused client without authentication_failure_close is disconnected with no close frame',
      async () => {
        const raw = await clients.raw();
        raw.sendProtocolHeader();
        await raw.readStart();
        raw.sendStartOk({ user: 'guest', password: 'nope', capabilities: null });
        expect(await raw.waitClosed(5000)).toBe(true);
        expect(raw.drainFrames()).toEqual([]);
      },
      T,
    );
  });

  describe('heartbeats', () => {
    it(
      'the interval from tune-ok is used: the server heartbeats an idle client, drops a silent one without a close frame, keeps a heartbeating one',
      async () => {
        const startedAt = Date.now();
        // amqplib heartbeats on its own; it sends nothing else for the whole test.
        const heartbeating = await clients.amqplib('heartbeat=1');
        const raw = await clients.raw();
        await raw.handshake({ heartbeat: 1 });
        const frame = await raw.readFrame(3000);
        expect(frame).toMatchObject({ type: FRAME_HEARTBEAT, channel: 0 });
        expect(frame.payload.length).toBe(0);
        // The raw client never sends anything: after two to three missed intervals the server gives up.
        expect(await raw.waitClosed(6000)).toBe(true);
        const methods = raw.drainFrames().filter((f) => f.type !== FRAME_HEARTBEAT);
        expect(methods).toEqual([]);
        // Three intervals of nothing but heartbeats: the amqplib connection must still be open.
        const left = startedAt + 3500 - Date.now();
        if (left > 0) await sleep(left);
        const channel = await amqplibChannel(heartbeating);
        await expect(channel.checkExchange('amq.direct')).resolves.toEqual({});
        expect(clients.connectionErrors.get(heartbeating)).toEqual([]);
      },
      T,
    );

    it(
      'amqplib negotiates the smaller heartbeat, and 0 disables it',
      async () => {
        const withHeartbeat = await clients.amqplib('heartbeat=5');
        expect((withHeartbeat.connection as unknown as { heartbeat: number }).heartbeat).toBe(5);
        const without = await clients.amqplib('heartbeat=0');
        expect((without.connection as unknown as { heartbeat: number }).heartbeat).toBe(0);
        const serverDefault = await clients.amqplib();
        expect((serverDefault.connection as unknown as { heartbeat: number }).heartbeat).toBe(60);
      },
      T,
    );
  });

  describe('virtual hosts', () => {
    it(
      'a missing vhost is refused with 530 NOT_ALLOWED (10/40) (raw, amqp-client, amqplib)',
      async () => {
        const raw = await clients.raw();
        raw.sendProtocolHeader();
        await raw.readStart();
        raw.sendStartOk({});
        const tune = await raw.readTune();
        raw.sendTuneOk({ ...tune, heartbeat: 0 });
        raw.sendOpen('no-such-vhost');
        expect(decodeClose(await raw.expectMethodFrame(0, 10, 50))).toEqual({
          replyCode: 530,
          replyText: 'NOT_ALLOWED - vhost no-such-vhost not found',
          classId: 10,
          methodId: 40,
        });

        const client = new AMQPClient(clients.url('', 'guest:guest', 'no-such-vhost'));
        client.onerror = () => undefined;
        const cloudError = await rejectionOf(client.connect());
        expect(handshakeReplyCode(cloudError)).toBe(530);
        client.socket?.destroy();

        // amqplib reports a close during open without its code; it must still fail to connect.
        const error = await rejectionOf(
          amqp.connect(clients.url('', 'guest:guest', 'no-such-vhost')),
        );
        expect(error.message).toContain('ConnectionClose');
      },
      T,
    );

    it(
      'a user without permissions on the vhost is refused with 530 at connection.open (10/40)',
      async () => {
        const client = new AMQPClient(clients.url('', 'alice:alice-secret', 'other'));
        client.onerror = () => undefined;
        const error = await rejectionOf(client.connect());
        expect(handshakeReplyCode(error)).toBe(530);
        expect(error.message).toContain(
          "NOT_ALLOWED - access to vhost 'other' refused for user 'alice'",
        );
        client.socket?.destroy();

        const raw = await clients.raw();
        raw.sendProtocolHeader();
        await raw.readStart();
        raw.sendStartOk({ user: 'alice', password: 'alice-secret' });
        const tune = await raw.readTune();
        raw.sendTuneOk({ ...tune, heartbeat: 0 });
        raw.sendOpen('other');
        const close = decodeClose(await raw.expectMethodFrame(0, 10, 50));
        expect(close).toEqual({
          replyCode: 530,
          replyText: "NOT_ALLOWED - access to vhost 'other' refused for user 'alice'",
          classId: 10,
          methodId: 40,
        });
      },
      T,
    );

    it(
      'vhosts keep separate queues',
      async () => {
        const name = uniqueName('vhost.q');
        const inOther = await clients.cloud('', 'guest:guest', 'other');
        const otherChannel = await inOther.channel();
        await otherChannel.queueDeclare(name, { autoDelete: false });
        const inRoot = await clients.amqplib();
        const rootChannel = await amqplibChannel(inRoot);
        const error = await rejectionOf(rootChannel.checkQueue(name));
        expect((error as { code?: number }).code).toBe(404);
        await otherChannel.queueDelete(name);
      },
      T,
    );
  });

  describe('closing', () => {
    it(
      'amqplib: close() completes the close handshake and emits close without an error',
      async () => {
        const connection = await clients.amqplib();
        await amqplibChannel(connection);
        const closed = nextEvent<Error | undefined>(connection, 'close');
        await connection.close();
        expect(await closed).toBeUndefined();
        expect(clients.connectionErrors.get(connection)).toEqual([]);
      },
      T,
    );

    it(
      'amqp-client: close() resolves and the client reports closed',
      async () => {
        const client = await clients.cloud();
        await client.channel();
        await client.close();
        expect(client.closed).toBe(true);
      },
      T,
    );

    it(
      'after the server sends connection.close, the client close-ok makes it drop the socket at once',
      async () => {
        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        // A second channel.open on an open channel is a hard error (504).
        raw.sendRawMethod(1, 20, 10, Buffer.from([0]));
        const close = decodeClose(await raw.expectMethodFrame(0, 10, 50));
        expect(close.replyCode).toBe(504);
        const sentAt = Date.now();
        raw.sendRawMethod(0, 10, 51);
        expect(await raw.waitClosed(1000)).toBe(true);
        expect(Date.now() - sentAt).toBeLessThan(1000);
      },
      T,
    );

    it(
      'a connection.close crossing the server close is answered with close-ok',
      async () => {
        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        raw.sendRawMethod(1, 20, 10, Buffer.from([0]));
        expect(decodeClose(await raw.expectMethodFrame(0, 10, 50)).replyCode).toBe(504);
        raw.sendRawMethod(0, 10, 50, Buffer.from([0, 200, 0, 0, 0, 0, 0]));
        await raw.expectMethodFrame(0, 10, 51, 1000);
      },
      T,
    );

    it(
      'raw: connection.close is answered with close-ok',
      async () => {
        const raw = await clients.raw();
        await raw.handshake();
        await raw.openChannel(1);
        await expect(raw.close()).resolves.toBeUndefined();
      },
      T,
    );
  });
});
