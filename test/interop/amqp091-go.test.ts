// RabbitMQ's Go client (amqp091-go, Debian's package) against Warren, on the behaviours where
// it once saw Warren differ from RabbitMQ.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { buildGoProgram, runGoProgram } from '../helpers/go.js';

describe('amqp091-go', () => {
  let broker: TestBroker;
  let closeRace: string;

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1 });
    closeRace = await buildGoProgram('closerace');
  }, 120_000);

  afterAll(async () => {
    await broker?.close();
  });

  // Regression test. The bug was: after the client's connection.close Warren sent close-ok and
  // ended the socket at once, so amqp091-go's reader often met EOF before close-ok and reported
  // "Exception (501) Reason: EOF" on NotifyClose (about 1 try in 2). RabbitMQ leaves the socket
  // for the client to close. The race is timing-dependent, hence many tries.
  it('closes gracefully, every time (50 tries)', { timeout: 120_000 }, async () => {
    const result = await runGoProgram(
      closeRace,
      ['-uri', `${broker.url}/`, '-tries', '50'],
      100_000,
    );
    const report = JSON.parse(result.stdout) as {
      tries: number;
      failures: number;
      samples: string[];
    };
    expect(report.samples).toEqual([]);
    expect(report).toMatchObject({ tries: 50, failures: 0 });
    expect(result.code).toBe(0);
  });

  it(
    'hears the server close the connection with its reply code, never an EOF (50 tries)',
    { timeout: 120_000 },
    async () => {
      const result = await runGoProgram(
        closeRace,
        ['-uri', `${broker.url}/`, '-tries', '50', '-mode', 'server'],
        100_000,
      );
      const report = JSON.parse(result.stdout) as { failures: number; samples: string[] };
      expect(report.samples).toEqual([]);
      expect(report.failures).toBe(0);
      expect(result.code).toBe(0);
    },
  );
});
