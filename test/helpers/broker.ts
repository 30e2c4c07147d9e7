// Test helpers: start a Warren broker in-process on an ephemeral loopback port, from the built
// package (dist/), exactly as a user of `import { startBroker } from 'warren'` would. Each
// broker gets its own temporary data directory, removed when it closes unless the test passed
// its own (to restart a broker on the same data).

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../dist/index.js';

export type { RunningBroker };

export interface TestBroker extends RunningBroker {
  url: string;
  dataDir: string;
}

/** A fresh temporary directory for broker data. */
export function temporaryDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'warren-test-'));
}

export async function startTestBroker(options: Partial<BrokerOptions> = {}): Promise<TestBroker> {
  const isOwnDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? temporaryDataDir();
  const running = await startBroker({
    port: 0,
    mgmtPort: 0,
    bind: '127.0.0.1',
    shardCount: 2,
    logLevel: 'silent',
    ringBytes: 1 << 20,
    ...options,
    dataDir,
  });
  return {
    ...running,
    dataDir,
    url: `amqp://guest:guest@127.0.0.1:${running.port}`,
    close: async () => {
      await running.close();
      if (isOwnDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Gives a user a RabbitMQ SHA-256 password hash instead of Warren's scrypt one, for tests that
 * open hundreds of connections at once: each scrypt check takes ~30 ms of libuv's thread pool,
 * so such a login storm takes seconds on two cores, and those tests are about frames, not logins.
 */
export function useCheapPasswordHash(broker: TestBroker, name = 'guest', password = 'guest'): void {
  const user = broker.broker.access.getUser(name);
  if (user === undefined) throw new Error(`no user '${name}'`);
  const salt = randomBytes(4);
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  broker.broker.access.putUser({
    ...user,
    passwordHash: Buffer.concat([salt, digest]).toString('base64'),
    hashingAlgorithm: 'rabbit_password_hashing_sha256',
  });
}

/** Shard counts every end-to-end suite runs with: one shard, and several. */
export const SHARD_COUNTS = [1, 3] as const;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
