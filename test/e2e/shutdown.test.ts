// `npm start`'s process: one ready line, and SIGTERM or SIGINT closes every connection with
// 320 CONNECTION_FORCED, flushes the logs and exits 0; confirmed messages are there afterwards.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { spawnBroker, stopBroker } from '../helpers/process-broker.js';

describe.each(['SIGTERM', 'SIGINT'] as const)('the broker process on %s', (signal) => {
  let dataDir = '';
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it(
    'closes connections with 320, exits 0, and keeps confirmed messages',
    { timeout: 20_000 },
    async () => {
      dataDir = temporaryDataDir();
      let broker = await spawnBroker(dataDir);
      const connection = await amqp.connect(broker.url);
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('shutdown.q', { durable: true });
      for (let i = 0; i < 100; i++)
        channel.sendToQueue('shutdown.q', Buffer.from(`m${i}`), { persistent: true });
      await channel.waitForConfirms();
      connection.on('error', () => undefined);
      const closed = new Promise<Error>((resolve) => connection.on('close', resolve));
      const exited = new Promise<number | null>((resolve) =>
        broker.child.once('exit', (code) => resolve(code)),
      );
      broker.child.kill(signal);
      expect((await closed).message).toMatch(/320/);
      expect(await exited).toBe(0);

      broker = await spawnBroker(dataDir);
      try {
        const again = await amqp.connect(broker.url);
        const check = await again.createChannel();
        expect((await check.checkQueue('shutdown.q')).messageCount).toBe(100);
        await again.close();
      } finally {
        await stopBroker(broker, 'SIGTERM');
      }
    },
  );
});
