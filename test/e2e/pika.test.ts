// Debian's python3-pika against Warren: a client outside the Node ecosystem.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARD_COUNTS, startTestBroker, type TestBroker } from '../helpers/broker.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'python/pika_roundtrip.py');

async function hasPika(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  try {
    await run(PYTHON, ['-c', 'import pika']);
    return true;
  } catch {
    return false;
  }
}

const isPikaInstalled = await hasPika();
if (!isPikaInstalled) {
  console.warn(
    'python3-pika is not installed (apt-get install python3-pika): skipping the pika tests',
  );
}

describe.skipIf(!isPikaInstalled).each(SHARD_COUNTS)('pika with %i shard(s)', (shardCount) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ shardCount });
  });
  afterAll(async () => {
    await broker.close();
  });

  it(
    'declares, publishes with confirms, gets, nacks, consumes and sees a 404',
    { timeout: 20_000 },
    async () => {
      const { stdout } = await run(PYTHON, [SCRIPT, broker.url], { timeout: 15_000 });
      const seen = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      expect(seen.server_named).toBe(true);
      expect(seen.declare_count).toBe(5);
      expect(seen.get).toEqual(['body-0', false, 4, { i: 0, s: 'x', l: [1, 'a'] }, 'text/plain']);
      expect(seen.consumed).toEqual([
        ['body-0', true],
        ['body-1', false],
        ['body-2', false],
        ['body-3', false],
        ['body-4', false],
      ]);
      expect(seen.passive_missing).toEqual([
        404,
        "NOT_FOUND - no queue 'no-such-queue' in vhost '/'",
      ]);
    },
  );
});

describe.skipIf(!isPikaInstalled)('pika and queue features', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2, consumerTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await broker.close();
  });

  it(
    'dead-letters, expires messages and queues, nacks past a limit, orders by priority, picks consumers, replies directly',
    { timeout: 20_000 },
    async () => {
      const script = join(dirname(fileURLToPath(import.meta.url)), 'python/pika_queue_features.py');
      const { stdout } = await run(PYTHON, [script, broker.url, 'warren'], { timeout: 15_000 });
      const seen = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      expect(seen.dead).toEqual([
        'rejected',
        'pyf.dead',
        ['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason'],
        ['count', 'reason', 'queue', 'time', 'exchange', 'routing-keys', 'original-expiration'],
        1,
        'rejected',
        true,
        null,
      ]);
      expect(seen.expired).toEqual(['expired', 'expired']);
      expect(seen.limited).toEqual(['ack', 'ack', 'nack']);
      expect(seen.priority).toEqual(['high', 'mid', 'low', 'none']);
      expect(seen.sac).toEqual({ first: 4, second: 0 });
      expect(seen.consumer_priority).toEqual({ low: 0, high: 4 });
      expect(seen.expired_queue).toBe(404);
      expect(seen.direct_reply_to).toEqual([true, ['pong']]);
      expect(seen.retry).toEqual([2, 'retried', 'delivery_limit']);
      expect(seen.consumer_timeout).toEqual([
        406,
        'PRECONDITION_FAILED - delivery acknowledgement on channel 3 timed out. Timeout value used: 1000 ms. This timeout value can be configured, see consumers doc guide to learn more',
      ]);
    },
  );
});
