// Crash test for dead-lettering: persistent messages expire (x-message-ttl) from a durable queue
// into a durable dead-letter queue, often on another shard, while the broker is killed with
// SIGKILL at a seeded moment. After a restart (and the expiry of what was left) every message is
// in the dead-letter queue at most once: dead-lettering is at most once, as in RabbitMQ's classic
// queues, so a message dying at the moment of the crash may be lost but never duplicated; and
// confirmed messages that had not expired yet are never lost. The round itself lives in
// dead-letter-round.mjs, which scripts/crash-run.mjs also drives. WARREN_CRASH_ROUNDS sets the
// rounds.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';
import { random } from './crash-round.mjs';
import { deadLetterRound, declareDeadLetterQueues } from './dead-letter-round.mjs';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 2);

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
      await declareDeadLetterQueues(broker.port);
      let deadTotal = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const running = broker;
        const result = await deadLetterRound({
          port: running.port,
          round,
          delayMs: 300 + Math.floor(next() * 700),
          kill: () => stopBroker(running, 'SIGKILL'),
          restart: async () => {
            broker = await spawnBroker(dataDir, ['--shards', '2']);
            return broker.port;
          },
        });
        const where = `seed ${seed}, round ${round}`;
        expect(result.confirmed, `${where}: confirmed something`).toBeGreaterThan(0);
        expect(result.sourceLeft, `${where}: source emptied`).toBe(0);
        expect(result.duplicated, `${where}: dead-lettered twice`).toEqual([]);
        expect(result.neverSent, `${where}: never sent`).toEqual([]);
        expect(result.wrongDeath, `${where}: x-death of reason expired, count 1`).toEqual([]);
        // At most once: a confirmed message may be lost only while it was being dead-lettered,
        // which is a short window before the crash.
        expect(
          result.lost.length,
          `${where}: lost ${result.lost.length} of ${result.confirmed}`,
        ).toBeLessThan(Math.max(50, result.confirmed / 2));
        deadTotal += result.deadLettered;
      }
      await stopBroker(broker, 'SIGKILL');
      broker = null;
      expect(deadTotal).toBeGreaterThan(0);
    },
  );
});
