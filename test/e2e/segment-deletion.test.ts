// End-to-end: the data directory gives its space back once a queue's persistent messages are
// settled (the queue purged, deleted, or consumed with acks), without any further publishing:
// dead segments are deleted, the active one once the log has been idle for a moment.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const MESSAGES = 1500;
const BODY_BYTES = 4096;

/** Bytes of every segment file under the data directory. */
function logBytes(dataDir: string): number {
  let total = 0;
  const shards = join(dataDir, 'shards');
  for (const shard of readdirSync(shards)) {
    for (const name of readdirSync(join(shards, shard))) {
      if (name.endsWith('.wlog')) total += statSync(join(shards, shard, name)).size;
    }
  }
  return total;
}

describe('segments of settled messages are deleted while the broker is idle', () => {
  let dataDir = '';
  let broker: BrokerProcess;
  let connection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'warren-shrink-'));
    broker = await spawnBroker(dataDir, ['--shards', '2', '--segment-bytes', String(1 << 20)]);
    connection = await amqp.connect(broker.url);
    channel = await connection.createConfirmChannel();
  });
  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    if (broker !== undefined) await stopBroker(broker);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function fill(queue: string): Promise<void> {
    await channel.assertQueue(queue, { durable: true });
    const body = Buffer.alloc(BODY_BYTES, 7);
    for (let i = 0; i < MESSAGES; i++) channel.sendToQueue(queue, body, { persistent: true });
    await channel.waitForConfirms();
    expect(logBytes(dataDir)).toBeGreaterThan(MESSAGES * BODY_BYTES);
  }

  // Well under one segment: what is left is definitions and segment headers.
  const SMALL_BYTES = 256 * 1024;

  it('after a purge', { timeout: 30_000 }, async () => {
    await fill('shrink.purged');
    await channel.purgeQueue('shrink.purged');
    await eventually(() => logBytes(dataDir) < SMALL_BYTES, 'the log shrunk', 10_000);
  });

  it('after a delete', { timeout: 30_000 }, async () => {
    await fill('shrink.deleted');
    await channel.deleteQueue('shrink.deleted');
    await eventually(() => logBytes(dataDir) < SMALL_BYTES, 'the log shrunk', 10_000);
  });

  it('after consuming with acks', { timeout: 30_000 }, async () => {
    await fill('shrink.consumed');
    const consumer = await connection.createChannel();
    await consumer.prefetch(100);
    let consumed = 0;
    await consumer.consume('shrink.consumed', (message) => {
      consumer.ack(message!);
      consumed++;
    });
    await eventually(() => consumed === MESSAGES, 'every message consumed', 10_000);
    await eventually(() => logBytes(dataDir) < SMALL_BYTES, 'the log shrunk', 10_000);
    await consumer.close();
  });
});
