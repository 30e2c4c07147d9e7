// Across a clean restart on the same data directory, Warren keeps what RabbitMQ keeps: durable
// exchanges, queues and the bindings between them, and persistent messages in durable queues
// (in order, redelivered when they had been delivered and not acked); transient exchanges and
// queues, and transient messages, are gone.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SHARD_COUNTS,
  startTestBroker,
  temporaryDataDir,
  type TestBroker,
} from '../helpers/broker.js';

async function drain(
  channel: amqp.Channel,
  queue: string,
): Promise<{ body: string; isRedelivered: boolean }[]> {
  const seen: { body: string; isRedelivered: boolean }[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return seen;
    seen.push({ body: message.content.toString(), isRedelivered: message.fields.redelivered });
  }
}

describe.each(SHARD_COUNTS)('restart with %i shard(s)', (shardCount) => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'keeps durable topology and persistent messages, drops transient ones',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount, dataDir });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      await channel.assertExchange('restart.durable', 'topic', { durable: true });
      await channel.assertExchange('restart.transient', 'fanout', { durable: false });
      await channel.assertQueue('restart.q', { durable: true });
      await channel.assertQueue('restart.transient-q', { durable: false });
      await channel.bindQueue('restart.q', 'restart.durable', 'a.#');
      for (let i = 1; i <= 5; i++) {
        channel.publish('restart.durable', 'a.b', Buffer.from(`m${i}`), { persistent: true });
      }
      channel.sendToQueue('restart.q', Buffer.from('transient message'), { persistent: false });
      channel.sendToQueue('restart.transient-q', Buffer.from('gone'), { persistent: true });
      await channel.waitForConfirms();
      // m1 is acked; m2 is delivered and left unacked, so it comes back redelivered.
      const first = await channel.get('restart.q');
      expect(first !== false && first.content.toString()).toBe('m1');
      channel.ack(first as amqp.GetMessage);
      const second = await channel.get('restart.q');
      expect(second !== false && second.content.toString()).toBe('m2');
      await channel.checkQueue('restart.q');
      await broker.close();
      await connection.close().catch(() => undefined);

      broker = await startTestBroker({ shardCount, dataDir });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      await channel.checkExchange('restart.durable');
      expect(await drain(channel, 'restart.q')).toEqual([
        { body: 'm2', isRedelivered: true },
        { body: 'm3', isRedelivered: false },
        { body: 'm4', isRedelivered: false },
        { body: 'm5', isRedelivered: false },
      ]);
      // The binding came back too.
      channel.publish('restart.durable', 'a.c', Buffer.from('after'), { persistent: true });
      await channel.waitForConfirms();
      expect((await channel.checkQueue('restart.q')).messageCount).toBe(1);
      const missing = await connection.createChannel();
      missing.on('error', () => undefined);
      await expect(missing.checkQueue('restart.transient-q')).rejects.toThrow(/404/);
      const missingExchange = await connection.createChannel();
      missingExchange.on('error', () => undefined);
      await expect(missingExchange.checkExchange('restart.transient')).rejects.toThrow(/404/);
      await connection.close();
    },
  );

  it(
    'forgets a durable queue deleted before the restart, with its messages',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount, dataDir });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      await channel.assertQueue('restart.deleted', { durable: true });
      channel.sendToQueue('restart.deleted', Buffer.from('x'), { persistent: true });
      await channel.waitForConfirms();
      await channel.deleteQueue('restart.deleted');
      await channel.assertQueue('restart.deleted', { durable: true });
      await connection.close();
      await broker.close();

      broker = await startTestBroker({ shardCount, dataDir });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      expect((await channel.checkQueue('restart.deleted')).messageCount).toBe(0);
      await connection.close();
    },
  );
});
