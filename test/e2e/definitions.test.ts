// Users, vhosts, permissions and topology from a RabbitMQ definitions file, loaded at start; and
// the `warren users|vhosts|permissions` commands that edit the file the broker then loads.

import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, temporaryDataDir, type TestBroker } from '../helpers/broker.js';
import { spawnBroker, stopBroker } from '../helpers/process-broker.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');

/** RabbitMQ's documented test vector: salt 908DC60A, password test12 (rabbit_password_hashing_sha256). */
const TEST12_HASH = 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR';

describe('definitions', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'loads a RabbitMQ definitions file: users with hashes, vhosts, permissions, topology',
    { timeout: 20_000 },
    async () => {
      dataDir = temporaryDataDir();
      const file = join(dataDir, 'rabbit-export.json');
      writeFileSync(
        file,
        JSON.stringify({
          rabbit_version: '3.10.8',
          users: [
            {
              name: 'alice',
              password_hash: TEST12_HASH,
              hashing_algorithm: 'rabbit_password_hashing_sha256',
              tags: ['management'],
            },
          ],
          vhosts: [{ name: '/' }, { name: 'orders' }],
          permissions: [
            { user: 'alice', vhost: 'orders', configure: '^alice\\.', write: '.*', read: '.*' },
          ],
          exchanges: [
            {
              name: 'orders.events',
              vhost: 'orders',
              type: 'topic',
              durable: true,
              auto_delete: false,
              internal: false,
              arguments: {},
            },
          ],
          queues: [
            {
              name: 'orders.audit',
              vhost: 'orders',
              durable: true,
              auto_delete: false,
              arguments: { 'x-queue-mode': 'lazy' },
            },
          ],
          bindings: [
            {
              source: 'orders.events',
              vhost: 'orders',
              destination: 'orders.audit',
              destination_type: 'queue',
              routing_key: 'order.#',
              arguments: {},
            },
          ],
        }),
      );
      broker = await startTestBroker({ shardCount: 2, dataDir, definitionsFile: file });
      const url = `amqp://alice:test12@127.0.0.1:${broker.port}/orders`;
      const connection = await amqp.connect(url);
      const channel = await connection.createConfirmChannel();
      channel.publish('orders.events', 'order.created', Buffer.from('{"id":1}'), {
        persistent: true,
      });
      await channel.waitForConfirms();
      expect((await channel.checkQueue('orders.audit')).messageCount).toBe(1);
      // configure is limited to alice.* names.
      const refused = await connection.createChannel();
      refused.on('error', () => undefined);
      await expect(refused.assertQueue('not-hers')).rejects.toThrow(/403/);
      await channel.assertQueue('alice.work');
      await connection.close();
      // The default user is not created when the file names users, as with RabbitMQ.
      await expect(amqp.connect(broker.url)).rejects.toThrow();
      // A wrong password is refused.
      await expect(
        amqp.connect(`amqp://alice:wrong@127.0.0.1:${broker.port}/orders`),
      ).rejects.toThrow();
    },
  );

  it(
    'the warren command adds users, vhosts and permissions that the broker loads',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      const run = (...args: string[]) =>
        execFileSync(process.execPath, [CLI, ...args, '--data-dir', dataDir], { encoding: 'utf8' });
      run('users', 'add', 'bob', 's3cret', 'administrator');
      run('vhosts', 'add', 'jobs');
      run('permissions', 'set', 'jobs', 'bob', '.*', '.*', '.*');
      expect(run('users', 'list')).toMatch(/bob\t\[administrator\]/);
      expect(run('vhosts', 'list')).toMatch(/jobs/);
      expect(() => run('permissions', 'set', 'nowhere', 'bob', '.*', '.*', '.*')).toThrow(
        /no vhost 'nowhere'/,
      );
      const running = await spawnBroker(dataDir);
      try {
        const connection = await amqp.connect(`amqp://bob:s3cret@127.0.0.1:${running.port}/jobs`);
        const channel = await connection.createChannel();
        await channel.assertQueue('work');
        await connection.close();
        // guest is still there, as the new file started from RabbitMQ's defaults.
        const guest = await amqp.connect(running.url);
        await guest.close();
      } finally {
        await stopBroker(running, 'SIGTERM');
      }
    },
  );

  it(
    'exports the durable definitions as RabbitMQ JSON and imports them into another data dir',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      const source = join(dataDir, 'source');
      const target = join(dataDir, 'target');
      const run = (...args: string[]) =>
        execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      const first = await spawnBroker(source);
      try {
        const connection = await amqp.connect(first.url);
        const channel = await connection.createChannel();
        await channel.assertExchange('export.topic', 'topic', { durable: true });
        await channel.assertQueue('export.q', { durable: true, arguments: { 'x-max-length': 10 } });
        await channel.assertQueue('export.transient', { durable: false });
        await channel.bindQueue('export.q', 'export.topic', 'a.#');
        await connection.close();
        // Exported while the broker runs: the tool only reads the log.
        const exported = JSON.parse(run('definitions', 'export', '--data-dir', source)) as {
          queues: { name: string; arguments: object }[];
          exchanges: { name: string; type: string }[];
          bindings: { source: string; destination: string; routing_key: string }[];
          users: { name: string; password_hash: string }[];
        };
        expect(exported.queues).toEqual([
          expect.objectContaining({ name: 'export.q', arguments: { 'x-max-length': 10 } }),
        ]);
        expect(exported.exchanges).toEqual([
          expect.objectContaining({ name: 'export.topic', type: 'topic' }),
        ]);
        expect(exported.bindings).toEqual([
          expect.objectContaining({
            source: 'export.topic',
            destination: 'export.q',
            routing_key: 'a.#',
          }),
        ]);
        expect(exported.users.map((user) => user.name)).toEqual(['guest']);
        writeFileSync(join(dataDir, 'exported.json'), JSON.stringify(exported));
      } finally {
        await stopBroker(first, 'SIGTERM');
      }
      run('definitions', 'import', join(dataDir, 'exported.json'), '--data-dir', target);
      const second = await spawnBroker(target);
      try {
        const connection = await amqp.connect(second.url);
        const channel = await connection.createConfirmChannel();
        channel.publish('export.topic', 'a.b', Buffer.from('routed'), { persistent: true });
        await channel.waitForConfirms();
        expect((await channel.checkQueue('export.q')).messageCount).toBe(1);
        await connection.close();
      } finally {
        await stopBroker(second, 'SIGTERM');
      }
    },
  );
});
