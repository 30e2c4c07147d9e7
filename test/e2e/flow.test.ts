// Flow between publishers and consumers on the network thread: a publisher sending as fast as
// its socket allows must not crowd out deliveries to consumers of the same queue(s). Before the
// per-turn input share, one flooding publisher took ~85 % of the thread and the consumer saw
// ~15 % of the publish rate; with it the two stay close. warren-perf drives the flood.

import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { temporaryDataDir } from '../helpers/broker.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const PERF_CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/perf/cli.js');

interface PerfRates {
  sentPerSecond: number;
  receivedPerSecond: number;
}

function runPerf(args: string[]): Promise<{ rates: PerfRates; totals: { received: number } }> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [PERF_CLI, ...args], { timeout: 30_000 }, (error, stdout) => {
      if (error !== null) return reject(error);
      resolvePromise(JSON.parse(stdout) as { rates: PerfRates; totals: { received: number } });
    });
  });
}

describe('publisher flow', () => {
  // A broker process of its own, as users run it: in the test runner's thread the timing of
  // the rings and sockets differs enough to hide the effect.
  let broker: BrokerProcess;
  const dataDir = temporaryDataDir();
  beforeAll(async () => {
    broker = await spawnBroker(dataDir, ['--shards', '1', '--no-mgmt']);
  });
  afterAll(async () => {
    await stopBroker(broker);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps delivering to a consumer while a publisher floods the same queue', async () => {
    const result = await runPerf([
      '--uri',
      `amqp://guest:guest@127.0.0.1:${broker.port}`,
      '--duration',
      '2',
      '--size',
      '16',
      '--autoack',
      '--json',
      '--quiet',
    ]);
    expect(result.totals.received).toBeGreaterThan(0);
    // Without fair input the consumer got 15-50 % of the publish rate here; with it, 90 %+.
    expect(result.rates.receivedPerSecond).toBeGreaterThan(0.7 * result.rates.sentPerSecond);
  }, 40_000);

  it('throttles a fanout publisher to the deliveries its publishes make', async () => {
    // Each publish makes 8 deliveries; the shards must take a publisher's commands before it
    // reads more, or deliveries fall far behind (6 % of what was routed, before).
    const result = await runPerf([
      '--uri',
      `amqp://guest:guest@127.0.0.1:${broker.port}`,
      '--duration',
      '5',
      '--size',
      '16',
      '--exchange',
      'flow.fanout',
      '--type',
      'fanout',
      '--queues',
      '8',
      '--consumers',
      '8',
      '--autoack',
      '--json',
      '--quiet',
    ]);
    expect(result.totals.received).toBeGreaterThan(0);
    expect(result.rates.receivedPerSecond).toBeGreaterThan(0.6 * 8 * result.rates.sentPerSecond);
  }, 40_000);
});
