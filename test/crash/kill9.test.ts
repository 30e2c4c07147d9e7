// Crash test against the real process: publish persistent messages with confirms from several
// channels (and transactions), kill -9 the broker at a seeded moment, restart it on the same
// data, and check that every confirmed message is there exactly once, in publish order per
// publisher, and that every committed transaction is there whole. Unconfirmed messages may or
// may not survive, but never twice. WARREN_CRASH_ROUNDS sets the rounds (default 3).

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 3);
const QUEUES = ['crash.a', 'crash.b', 'crash.c', 'crash.d'];
const PUBLISHERS_PER_QUEUE = 2;

/** A small seeded generator, so a failing round can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

type Broker = BrokerProcess;

function startBroker(dataDir: string): Promise<Broker> {
  return spawnBroker(dataDir, ['--shards', '2']);
}

function kill(broker: Broker): Promise<void> {
  return stopBroker(broker, 'SIGKILL');
}

/** Publishes until the connection dies; records what was confirmed and what was only sent. */
async function publishUntilKilled(
  port: number,
  queue: string,
  publisher: string,
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
        const body = `${round}:${publisher}:${seq++}`;
        sent.add(body);
        channel.sendToQueue(queue, Buffer.from(body), { persistent: true }, (error: unknown) => {
          if (error === null || error === undefined) confirmed.add(body);
        });
      }
      setImmediate(() => channel.waitForConfirms().then(pump, () => resolve()));
    };
    pump();
  });
}

/** Commits transactions of five messages until the connection dies. */
async function commitUntilKilled(
  port: number,
  committed: string[][],
  attempted: string[][],
  round: number,
): Promise<void> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  const rpc = (method: string) =>
    new Promise<void>((resolve, reject) => {
      // amqplib has no tx API; its channel speaks any method through _rpc.
      const internal = channel as unknown as {
        _rpc(method: number, fields: object, expect: number, cb: (error: unknown) => void): void;
      };
      const ids: Record<string, [number, number]> = {
        select: [0x5a000a, 0x5a000b],
        commit: [0x5a0014, 0x5a0015],
      };
      const [id, ok] = ids[method]!;
      internal._rpc(id, {}, ok, (error) => (error === null ? resolve() : reject(error as Error)));
    });
  try {
    await rpc('select');
    for (let batch = 0; ; batch++) {
      const bodies = Array.from({ length: 5 }, (_, i) => `${round}:tx:${batch}:${i}`);
      attempted.push(bodies);
      for (const body of bodies)
        channel.sendToQueue('crash.tx', Buffer.from(body), { persistent: true });
      await rpc('commit');
      committed.push(bodies);
    }
  } catch {
    // the broker died
  }
}

async function drainAll(port: number, queue: string): Promise<string[]> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const channel = await connection.createChannel();
  const bodies: string[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) break;
    bodies.push(message.content.toString());
  }
  await connection.close();
  return bodies;
}

describe('kill -9 while publishing with confirms and transactions', () => {
  const dataDir = temporaryDataDir();
  let broker: Broker | null = null;
  afterAll(async () => {
    // A failed assertion leaves the current broker running: it must not outlive the test.
    if (broker !== null) await kill(broker);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    `loses nothing confirmed over ${ROUNDS} crashes`,
    { timeout: 60_000 + ROUNDS * 20_000 },
    async () => {
      const seed = Number(process.env['WARREN_CRASH_SEED'] ?? Date.now() % 100_000);
      const next = random(seed);
      broker = await startBroker(dataDir);
      const setup = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
      const setupChannel = await setup.createChannel();
      for (const queue of [...QUEUES, 'crash.tx'])
        await setupChannel.assertQueue(queue, { durable: true });
      await setup.close();
      let checked = 0;
      let committedTotal = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const confirmed = new Set<string>();
        const sent = new Set<string>();
        const committed: string[][] = [];
        const attempted: string[][] = [];
        const publishing = QUEUES.flatMap((queue) =>
          Array.from({ length: PUBLISHERS_PER_QUEUE }, (_, i) =>
            publishUntilKilled(broker!.port, queue, `${queue}/${i}`, confirmed, sent, round),
          ),
        );
        const transactions = commitUntilKilled(broker!.port, committed, attempted, round);
        const delayMs = 300 + Math.floor(next() * 700);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await kill(broker);
        await Promise.all([...publishing, transactions]);
        expect(confirmed.size, `round ${round} (seed ${seed}) confirmed something`).toBeGreaterThan(
          0,
        );

        broker = await startBroker(dataDir);
        const found = new Set<string>();
        for (const queue of QUEUES) {
          const bodies = await drainAll(broker.port, queue);
          const lastSeqByPublisher = new Map<string, number>();
          for (const body of bodies) {
            expect(found.has(body), `seed ${seed}: ${body} came back twice`).toBe(false);
            found.add(body);
            expect(sent.has(body), `seed ${seed}: ${body} was never sent`).toBe(true);
            const [, publisher, seq] = body.split(':');
            const last = lastSeqByPublisher.get(publisher!) ?? -1;
            expect(Number(seq), `seed ${seed}: ${publisher} out of order`).toBeGreaterThan(last);
            lastSeqByPublisher.set(publisher!, Number(seq));
          }
        }
        const missing = [...confirmed].filter((body) => !found.has(body));
        expect(missing, `seed ${seed}, round ${round}: confirmed but lost`).toEqual([]);
        checked += confirmed.size;
        committedTotal += committed.length;

        const transactionBodies = new Set(await drainAll(broker.port, 'crash.tx'));
        for (const batch of committed) {
          for (const body of batch)
            expect(transactionBodies.has(body), `seed ${seed}: committed ${body} lost`).toBe(true);
        }
        for (const batch of attempted) {
          const present = batch.filter((body) => transactionBodies.has(body)).length;
          expect([0, batch.length], `seed ${seed}: transaction ${batch[0]} torn`).toContain(
            present,
          );
        }
      }
      await kill(broker);
      expect(checked).toBeGreaterThan(0);
    },
  );
});
