// Crash test against the real process: publish persistent messages with confirms from several
// channels (and transactions), kill -9 the broker at a seeded moment, restart it on the same
// data, and check that every confirmed message is there exactly once, in publish order per
// publisher, and that every committed transaction is there whole. Unconfirmed messages may or
// may not survive, but never twice. The round itself lives in crash-round.mjs, which
// scripts/crash-run.mjs also drives. WARREN_CRASH_ROUNDS sets the rounds (default 3).

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';
import { crashRound, declareQueues, random } from './crash-round.mjs';

const ROUNDS = Number(process.env['WARREN_CRASH_ROUNDS'] ?? 3);

function startBroker(dataDir: string): Promise<BrokerProcess> {
  return spawnBroker(dataDir, ['--shards', '2']);
}

describe('kill -9 while publishing with confirms and transactions', () => {
  const dataDir = temporaryDataDir();
  let broker: BrokerProcess | null = null;
  afterAll(async () => {
    // A failed assertion leaves the current broker running: it must not outlive the test.
    if (broker !== null) await stopBroker(broker, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    `loses nothing confirmed over ${ROUNDS} crashes`,
    { timeout: 60_000 + ROUNDS * 20_000 },
    async () => {
      const seed = Number(process.env['WARREN_CRASH_SEED'] ?? Date.now() % 100_000);
      const next = random(seed);
      broker = await startBroker(dataDir);
      await declareQueues(broker.port);
      let checked = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const running = broker;
        const result = await crashRound({
          port: running.port,
          round,
          delayMs: 300 + Math.floor(next() * 700),
          kill: () => stopBroker(running, 'SIGKILL'),
          restart: async () => {
            broker = await startBroker(dataDir);
            return broker.port;
          },
        });
        const where = `seed ${seed}, round ${round}`;
        expect(result.confirmed, `${where}: confirmed something`).toBeGreaterThan(0);
        expect(result.duplicated, `${where}: came back twice`).toEqual([]);
        expect(result.neverSent, `${where}: never sent`).toEqual([]);
        expect(result.outOfOrder, `${where}: out of publish order`).toEqual([]);
        expect(result.lost, `${where}: confirmed but lost`).toEqual([]);
        expect(result.committedLost, `${where}: committed but lost`).toEqual([]);
        expect(result.torn, `${where}: transactions torn`).toEqual([]);
        checked += result.confirmed;
      }
      await stopBroker(broker, 'SIGKILL');
      expect(checked).toBeGreaterThan(0);
    },
  );
});
