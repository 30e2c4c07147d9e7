// Crash test for dead-lettering: persistent messages expire (x-message-ttl) from a durable queue
// into a durable dead-letter queue, often on another shard, while the broker is killed with
// SIGKILL at a seeded moment. After a restart (and the expiry of what was left) every message is
// in the dead-letter queue at most once: dead-lettering is at most once, as in RabbitMQ's classic
// queues, so a message dying at the moment of the crash may be lost but never duplicated; and
// confirmed messages that had not expired yet are never lost. WARREN_CRASH_ROUNDS sets the rounds.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 2);
const TTL_MS = 30;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

async function publishUntilKilled(
  port: number,
  confirmed: Set<string>,
  sent: Set<string>,
  round: number,
): Promise<void> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  let seq = 0;
  await new Promise<void>((resolve) => {
    connection.on('close', () => resolve());
    const pump = () => {
      for (let i = 0; i < 20; i++) {
        const body = `${round}:${seq++}`;
        sent.add(body);
        channel.sendToQueue(
          'dlc.src',
          Buffer.from(body),
          { persistent: true },
          (error: unknown) => {
            if (error === null || error === undefined) confirmed.add(body);
          },
        );
      }
      setImmediate(() => channel.waitForConfirms().then(pump, () => resolve()));
    };
    pump();
  });
}

async function drainAll(port: number, queue: string): Promise<amqp.GetMessage[]> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const channel = await connection.createChannel();
  const messages: amqp.GetMessage[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) break;
    messages.push(message);
  }
  await connection.close();
  return messages;
}

describe('kill -9 while messages are dead-lettered', () => {
  const dataDir = temporaryDataDir();
  let broker: BrokerProcess | null = null;
  afterAll(async () => {
    if (broker !== null) await stopBroker(broker, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    `never duplicates a dead letter over ${ROUNDS} crashes`,
    { timeout: 60_000 + ROUNDS * 20_000 },
    async () => {
      const seed = Number(process.env['WARREN_CRASH_SEED'] ?? Date.now() % 100_000);
      const next = random(seed);
      broker = await spawnBroker(dataDir, ['--shards', '2']);
      const setup = await amqp.connect(broker.url);
      const setupChannel = await setup.createChannel();
      await setupChannel.assertQueue('dlc.dead', { durable: true });
      await setupChannel.assertQueue('dlc.src', {
        durable: true,
        arguments: {
          'x-message-ttl': TTL_MS,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': 'dlc.dead',
        },
      });
      await setup.close();
      let deadTotal = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const confirmed = new Set<string>();
        const sent = new Set<string>();
        const publishing = publishUntilKilled(broker.port, confirmed, sent, round);
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(next() * 700)));
        await stopBroker(broker, 'SIGKILL');
        await publishing;
        expect(confirmed.size, `seed ${seed}: round ${round} confirmed something`).toBeGreaterThan(
          0,
        );

        broker = await spawnBroker(dataDir, ['--shards', '2']);
        // Whatever was left in the source has expired by now and is dead-lettered at start.
        await new Promise((resolve) => setTimeout(resolve, TTL_MS * 5));
        expect(await drainAll(broker.port, 'dlc.src'), `seed ${seed}: source emptied`).toEqual([]);
        const found = new Set<string>();
        for (const message of await drainAll(broker.port, 'dlc.dead')) {
          const body = message.content.toString();
          expect(found.has(body), `seed ${seed}: ${body} dead-lettered twice`).toBe(false);
          found.add(body);
          expect(sent.has(body), `seed ${seed}: ${body} was never sent`).toBe(true);
          const death = (message.properties.headers as Record<string, unknown[]>)['x-death']![0];
          expect(death).toMatchObject({ reason: 'expired', queue: 'dlc.src', count: 1 });
        }
        // At most once: a confirmed message may be lost only while it was being dead-lettered,
        // which is a short window before the crash.
        const lost = [...confirmed].filter((body) => !found.has(body));
        expect(lost.length, `seed ${seed}: lost ${lost.length} of ${confirmed.size}`).toBeLessThan(
          Math.max(50, confirmed.size / 2),
        );
        deadTotal += found.size;
      }
      await stopBroker(broker, 'SIGKILL');
      broker = null;
      expect(deadTotal).toBeGreaterThan(0);
    },
  );
});
