// Stored passwords end to end: users created with a plain password (management API, the
// `warren users` command, the default user) are kept as scrypt hashes and log in over AMQP;
// users imported with RabbitMQ's SHA-256 hashes still log in; exports keep what is stored, with
// the algorithm that says which.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { api, startTestBroker, type TestBroker } from '../helpers/mgmt.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');
/** RabbitMQ's documented vector: salt 908DC60A, password test12 (rabbit_password_hashing_sha256). */
const TEST12_HASH = 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR';

interface ExportedUser {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
}

describe('passwords', () => {
  let broker: TestBroker;
  const url = (user: string, password: string) =>
    `amqp://${user}:${encodeURIComponent(password)}@127.0.0.1:${broker.port}`;

  async function loginWorks(user: string, password: string): Promise<boolean> {
    try {
      const connection = await amqp.connect(url(user, password));
      await connection.close();
      return true;
    } catch (error) {
      if (!/ACCESS_REFUSED|403/.test(String(error))) throw error;
      return false;
    }
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('hashes the default user with scrypt', { timeout: 10_000 }, async () => {
    expect.hasAssertions();
    expect(broker.broker.access.getUser('guest')?.hashingAlgorithm).toBe(
      'warren_password_hashing_scrypt',
    );
    expect(await loginWorks('guest', 'guest')).toBe(true);
    expect(await loginWorks('guest', 'Guest')).toBe(false);
  });

  it(
    'logs in a user created through the API (scrypt), refuses a wrong password, and logs in an imported SHA-256 user',
    { timeout: 15_000 },
    async () => {
      expect.hasAssertions();
      expect(
        (
          await api(broker, 'PUT', '/api/users/alice', {
            body: { password: 'wonder land', tags: '' },
          })
        ).status,
      ).toBe(201);
      const imported = await api(broker, 'POST', '/api/definitions', {
        body: {
          users: [
            {
              name: 'bob',
              password_hash: TEST12_HASH,
              hashing_algorithm: 'rabbit_password_hashing_sha256',
              tags: [],
            },
          ],
          permissions: [
            { user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' },
            { user: 'bob', vhost: '/', configure: '.*', write: '.*', read: '.*' },
          ],
        },
      });
      expect(imported.status).toBeLessThan(300);
      expect(await loginWorks('alice', 'wonder land')).toBe(true);
      expect(await loginWorks('alice', 'wonderland')).toBe(false);
      expect(await loginWorks('bob', 'test12')).toBe(true);
      expect(await loginWorks('bob', 'test13')).toBe(false);
      expect(await loginWorks('nobody', 'test12')).toBe(false);

      // The export keeps each stored hash with the algorithm that made it.
      const exported = (await api(broker, 'GET', '/api/definitions')).body as {
        users: ExportedUser[];
      };
      const alice = exported.users.find((user) => user.name === 'alice')!;
      expect(alice.hashing_algorithm).toBe('warren_password_hashing_scrypt');
      expect(Buffer.from(alice.password_hash, 'base64')).toHaveLength(51);
      expect(exported.users.find((user) => user.name === 'bob')).toMatchObject({
        password_hash: TEST12_HASH,
        hashing_algorithm: 'rabbit_password_hashing_sha256',
      });

      // A Warren export imports back: the scrypt hash still logs in.
      await api(broker, 'DELETE', '/api/users/alice');
      expect(await loginWorks('alice', 'wonder land')).toBe(false);
      await api(broker, 'POST', '/api/definitions', {
        body: {
          users: [alice],
          permissions: [{ user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
        },
      });
      expect(await loginWorks('alice', 'wonder land')).toBe(true);
      // The management API's Basic auth checks scrypt hashes too.
      await api(broker, 'PUT', '/api/users/alice', {
        body: { password: 'wonder land', tags: 'management' },
      });
      expect(
        (await api(broker, 'GET', '/api/whoami', { credentials: 'alice:wonder land' })).status,
      ).toBe(200);
      expect(
        (await api(broker, 'GET', '/api/whoami', { credentials: 'alice:wonder' })).status,
      ).toBe(401);
    },
  );

  it('warren users add stores a scrypt hash', { timeout: 10_000 }, () => {
    expect.hasAssertions();
    const dataDir = temporaryDataDir();
    try {
      execFileSync(process.execPath, [
        CLI,
        'users',
        'add',
        'carol',
        's3cret',
        '--data-dir',
        dataDir,
      ]);
      const file = JSON.parse(readFileSync(join(dataDir, 'definitions.json'), 'utf8')) as {
        users: ExportedUser[];
      };
      expect(file.users.find((user) => user.name === 'carol')?.hashing_algorithm).toBe(
        'warren_password_hashing_scrypt',
      );
      expect(JSON.stringify(file)).not.toContain('s3cret');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
