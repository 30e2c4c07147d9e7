// End-to-end: Warren used as a library, the way README users do it: `startBroker` from the built
// package with port 0, read the bound port, talk AMQP to it, then `close()`, which closes client
// connections with 320 CONNECTION_FORCED and releases the port.

import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { beforeEach, describe, expect, it } from 'vitest';
import { type BrokerOptions, startBroker } from '../../dist/index.js';
import { SHARD_COUNTS, temporaryDataDir } from '../helpers/broker.js';
import {
  EXTERNAL_PORT,
  nextEvent,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  within,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

describe.skipIf(EXTERNAL_PORT !== null).each(SHARD_COUNTS)(
  'library use (%i shards)',
  (shardCount) => {
    beforeEach(() => {
      expect.hasAssertions();
    });

    it(
      'startBroker({ port: 0 }) reports the port it bound, serves both clients, and close() forces them off with 320',
      async () => {
        const running = await startBroker({
          port: 0,
          mgmtPort: 0,
          bind: '127.0.0.1',
          shardCount,
          logLevel: 'silent',
          dataDir: temporaryDataDir(),
        });
        let isClosed = false;
        try {
          expect(Number.isInteger(running.port)).toBe(true);
          expect(running.port).toBeGreaterThan(0);
          const url = `amqp://guest:guest@127.0.0.1:${running.port}`;

          const connection = await amqp.connect(url);
          const connectionErrors: Error[] = [];
          connection.on('error', (error: Error) => connectionErrors.push(error));
          const channel = await connection.createConfirmChannel();
          channel.on('error', () => undefined);
          const { queue } = await channel.assertQueue('', { exclusive: true });
          channel.sendToQueue(queue, Buffer.from('from amqplib'));
          await channel.waitForConfirms();

          const client = new AMQPClient(url);
          const cloudErrors: string[] = [];
          client.onerror = (error) => cloudErrors.push(error.message);
          await client.connect();
          const cloudChannel = await client.channel();
          const cloudQueue = await cloudChannel.queueDeclare('', { exclusive: true });
          await cloudChannel.basicPublish('', cloudQueue.name, 'from amqp-client');
          expect((await cloudChannel.basicGet(cloudQueue.name))?.bodyToString()).toBe(
            'from amqp-client',
          );
          const got = await channel.get(queue, { noAck: true });
          expect(got !== false && got.content.toString()).toBe('from amqplib');

          const amqplibClosed = nextEvent<Error | undefined>(connection, 'close', 5000);
          await within(running.close(), 5000, 'broker close');
          isClosed = true;
          const closeError = await amqplibClosed;
          // amqplib reports a 320 close on 'close' (it is an operator action, not an 'error').
          expect(replyCodeOf(closeError)).toBe(320);
          expect(closeError?.message).toContain('CONNECTION_FORCED');
          expect(client.closed).toBe(true);
          expect(cloudErrors.some((message) => message.includes('(320)'))).toBe(true);

          // The port is released: nothing answers any more.
          const refused = await rejectionOf(amqp.connect(url));
          expect(refused.message).toMatch(/ECONNREFUSED/);
          client.socket?.destroy();
        } finally {
          if (!isClosed) await running.close();
        }
      },
      T,
    );

    it(
      'two brokers on port 0 get different ports and are independent',
      async () => {
        const first = await startBroker({
          port: 0,
          mgmtPort: 0,
          bind: '127.0.0.1',
          shardCount,
          logLevel: 'silent',
          dataDir: temporaryDataDir(),
          ringBytes: 1 << 20,
        });
        const second = await startBroker({
          port: 0,
          mgmtPort: 0,
          bind: '127.0.0.1',
          shardCount,
          logLevel: 'silent',
          dataDir: temporaryDataDir(),
          ringBytes: 1 << 20,
        });
        try {
          expect(first.port).not.toBe(second.port);
          const a = await amqp.connect(`amqp://guest:guest@127.0.0.1:${first.port}`);
          const b = await amqp.connect(`amqp://guest:guest@127.0.0.1:${second.port}`);
          const channelA = await a.createChannel();
          const channelB = await b.createChannel();
          channelB.on('error', () => undefined);
          await channelA.assertQueue('only-on-first', { durable: false });
          const error = await rejectionOf(channelB.checkQueue('only-on-first'));
          expect(replyCodeOf(error)).toBe(404);
          await a.close();
          await b.close();
        } finally {
          await Promise.all([first.close(), second.close()]);
        }
      },
      T,
    );

    it(
      'invalid options are refused with a RangeError before anything starts',
      async () => {
        const error = await rejectionOf(
          startBroker({
            port: 0,
            mgmtPort: 0,
            bind: '127.0.0.1',
            shardCount: 0,
            logLevel: 'silent',
          }),
        );
        expect(error).toBeInstanceOf(RangeError);
        expect(error.message).toBe('shardCount: expected an integer from 1 to 30, got 0');
      },
      T,
    );

    it(
      'embeds quietly: a temporary data directory removed by close(), logging at warn',
      async () => {
        // Only what matters here; every other option is optional (npm run typecheck checks it).
        const options: BrokerOptions = { port: 0, mgmtPort: 0, bind: '127.0.0.1', shardCount };
        const running = await startBroker(options);
        const dataDir = running.broker.options.dataDir;
        try {
          expect(dataDir.startsWith(tmpdir())).toBe(true);
          expect(existsSync(dataDir)).toBe(true);
          expect(running.broker.logLevel).toBe('warn');
        } finally {
          await running.close();
        }
        expect(existsSync(dataDir)).toBe(false);

        // A data directory the caller gives is theirs: used and left in place.
        const own = temporaryDataDir();
        const kept = await startBroker({ ...options, dataDir: own, logLevel: 'silent' });
        expect(kept.broker.options.dataDir).toBe(own);
        expect(kept.broker.logLevel).toBe('silent');
        await kept.close();
        expect(existsSync(own)).toBe(true);
        rmSync(own, { recursive: true, force: true });
      },
      T,
    );
  },
);
