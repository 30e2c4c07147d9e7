// End-to-end: a data directory on a small file system that fills up (a 16 MiB tmpfs; mounting
// needs root, and the test is skipped with a note where mount is not permitted). Publishes the
// log cannot store are nacked, the disk alarm blocks publishers, the broker stays up and serves
// other clients (transient queues keep working), freeing space clears the alarm and publishing
// works again, and every message acked before is still there after a kill -9 and restart.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';
import { amqplibTx, nextEvent } from '../helpers/e2e.js';
import { eventually } from '../helpers/poll.js';

const QUEUE = 'disk-full.q';
const BODY_BYTES = 64 * 1024;

function bodyOf(id: number): Buffer {
  const body = Buffer.alloc(BODY_BYTES, id % 251);
  body.write(`m${id}.`, 0);
  return body;
}

function idOf(body: Buffer): number {
  return Number(/^m(\d+)\./.exec(body.toString('latin1', 0, 16))![1]);
}

/** Mounts a 16 MiB tmpfs on a fresh directory; null when this machine does not permit it. */
function mountSmallFileSystem(): string | null {
  const directory = mkdtempSync(join(tmpdir(), 'warren-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', directory], {
      stdio: 'ignore',
    });
    return directory;
  } catch {
    rmSync(directory, { recursive: true, force: true });
    return null;
  }
}

function freeBytes(directory: string): number {
  const stats = statfsSync(directory);
  return stats.bavail * stats.bsize;
}

async function alarmStatus(broker: BrokerProcess): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${broker.mgmtPort}/api/health/checks/alarms`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  return response.status;
}

type Outcome = 'ack' | 'nack';

describe('a data directory on a file system that fills up', () => {
  let directory: string | null = null;
  let broker: BrokerProcess | null = null;
  const connections: amqp.ChannelModel[] = [];
  afterEach(async () => {
    for (const connection of connections) await connection.close().catch(() => undefined);
    connections.length = 0;
    if (broker !== null) await stopBroker(broker);
    broker = null;
    if (directory !== null) {
      execFileSync('umount', [directory], { stdio: 'ignore' });
      rmSync(directory, { recursive: true, force: true });
    }
    directory = null;
  });

  async function connect(): Promise<amqp.ChannelModel> {
    const connection = await amqp.connect(broker!.url);
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  }

  it(
    'nacks what it cannot store, blocks publishers, stays up, heals, and loses no ack',
    {
      timeout: 60_000,
    },
    async (context) => {
      directory = mountSmallFileSystem();
      if (directory === null) {
        context.skip('mount -t tmpfs is not permitted here (needs root): disk-full test skipped');
        return;
      }
      const start = () =>
        spawnBroker(directory!, [
          '--shards',
          '2',
          // Only the log's own failures raise the disk alarm here, not the free-space sample.
          '--disk-free-limit',
          '0',
          '--segment-bytes',
          String(2 * 1024 * 1024),
        ]);
      broker = await start();
      const publisherConnection = await connect();
      const publisher = await publisherConnection.createConfirmChannel();
      await publisher.assertQueue(QUEUE, { durable: true });
      const outcomes = new Map<number, Promise<Outcome>>();
      let nextId = 1;
      const publish = (): Promise<Outcome> => {
        const id = nextId++;
        const outcome = new Promise<Outcome>((resolve) =>
          publisher.sendToQueue(QUEUE, bodyOf(id), { persistent: true }, (error) =>
            resolve(error === null || error === undefined ? 'ack' : 'nack'),
          ),
        );
        outcomes.set(id, outcome);
        return outcome;
      };

      // Before the disk is full everything is acked.
      for (let i = 0; i < 10; i++) void publish();
      await publisher.waitForConfirms();
      expect(await Promise.all([...outcomes.values()])).toEqual(Array(10).fill('ack'));

      // A transaction of 2 MiB is held on the network thread until its commit, sent once full.
      const txConnection = await connect();
      const tx = await txConnection.createChannel();
      tx.on('error', () => undefined);
      await amqplibTx.select(tx);
      for (let i = 0; i < 32; i++) tx.sendToQueue(QUEUE, bodyOf(100_000 + i), { persistent: true });
      // A round trip: the broker has read them all (a publish read under the alarm would pause
      // this connection, and its commit with it).
      await tx.checkQueue(QUEUE);

      // Leave about 1 MiB, then publish 3 MiB in one go.
      const filler = join(directory, 'filler');
      writeFileSync(filler, Buffer.alloc(freeBytes(directory) - 1024 * 1024));
      const blocked = nextEvent<string>(publisherConnection, 'blocked', 10_000);
      const burst: Promise<Outcome>[] = [];
      for (let i = 0; i < 48; i++) burst.push(publish());
      expect(await blocked).toBe('low on disk');
      // Nacks arrive (nothing hangs for what the broker read before the alarm stopped reading).
      const settled = new Map<number, Outcome>();
      for (const [id, outcome] of outcomes) void outcome.then((value) => settled.set(id, value));
      await eventually(() => [...settled.values()].includes('nack'), 'a publish nacked', 10_000);
      await eventually(async () => (await alarmStatus(broker!)) === 503, 'the disk alarm', 5000);
      // Confirms stay in order: every ack comes before the first nack.
      const firstNack = Math.min(...[...settled].filter(([, v]) => v === 'nack').map(([id]) => id));
      for (const [id, value] of settled) if (id < firstNack) expect(value).toBe('ack');
      const ackedBeforeFull = [...settled].filter(([, v]) => v === 'ack').map(([id]) => id);
      expect(ackedBeforeFull.length).toBeGreaterThanOrEqual(10);

      // A commit whose record cannot be stored closes its channel: 406, RabbitMQ's text first.
      const commitError = await amqplibTx.commit(tx).then(
        () => null,
        (error: Error) => error,
      );
      expect(commitError?.message).toMatch(/406.*PRECONDITION_FAILED - partial tx completion/);

      // The broker is up and serves other clients; transient queues keep working.
      const otherConnection = await connect();
      const other = await otherConnection.createConfirmChannel();
      const readerConnection = await connect();
      const reader = await readerConnection.createChannel();
      const transient = await reader.assertQueue('', { exclusive: true });
      const transientAck = new Promise<Outcome>((resolve) =>
        other.sendToQueue(transient.queue, Buffer.from('transient'), {}, (error) =>
          resolve(error === null || error === undefined ? 'ack' : 'nack'),
        ),
      );
      expect(await transientAck).toBe('ack');
      await eventually(
        async () => (await reader.checkQueue(transient.queue)).messageCount === 1,
        'the transient message queued',
        5000,
      );
      const got = await reader.get(transient.queue, { noAck: true });
      expect(got !== false && got.content.toString()).toBe('transient');
      expect((await reader.checkQueue(QUEUE)).messageCount).toBeGreaterThanOrEqual(
        ackedBeforeFull.length,
      );

      // Space returns: the alarm clears, the held publishes go in, and publishing works again.
      const unblocked = nextEvent(publisherConnection, 'unblocked', 10_000);
      unlinkSync(filler);
      await unblocked;
      await eventually(
        async () => (await alarmStatus(broker!)) === 200,
        'the disk alarm cleared',
        5000,
      );
      await Promise.all(burst);
      for (let i = 0; i < 10; i++) void publish();
      await publisher.waitForConfirms();
      const final = new Map<number, Outcome>();
      for (const [id, outcome] of outcomes) final.set(id, await outcome);
      const lastTen = [...final].slice(-10);
      expect(lastTen.map(([, value]) => value)).toEqual(Array(10).fill('ack'));
      const acked = [...final].filter(([, value]) => value === 'ack').map(([id]) => id);
      const nacked = [...final].filter(([, value]) => value === 'nack').map(([id]) => id);
      expect(nacked.length).toBeGreaterThan(0);

      // kill -9 and restart: every acked message is there.
      connections.length = 0;
      await stopBroker(broker, 'SIGKILL');
      broker = await start();
      const afterConnection = await connect();
      const after = await afterConnection.createChannel();
      const found = new Set<number>();
      for (;;) {
        const message = await after.get(QUEUE, { noAck: true });
        if (message === false) break;
        found.add(idOf(message.content));
      }
      for (const id of acked) expect(found.has(id), `acked message m${id}`).toBe(true);
    },
  );
});
