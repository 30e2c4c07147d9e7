#!/usr/bin/env node
// Tuning sweeps: the same warren-perf loads against Warren with each shard count and each fsync
// setting, so the tuning advice in docs/operations.md rests on measured numbers. Writes
// bench/results/sweep.json, then regenerates docs/benchmarks.md.
//
//   npm run bench:sweep -- [--runs 2] [--seconds 6]

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sweepTable, writeBenchmarksPage } from './benchmarks-page.mjs';
import { machine, median, root, runPerf, WarrenBroker } from './lib.mjs';
import { LOADS } from './loads.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '6' },
  },
});
const RUNS = Number(flags.runs);
const SECONDS = String(Number(flags.seconds));

const SWEEP_LOADS = [LOADS.persistent16, LOADS.persistent1, LOADS.fourByFour];

const shardCounts = [...new Set([1, 2, Math.max(3, availableParallelism())])];
const SETTINGS = [
  ...shardCounts.map((shards) => ({
    name: `--shards ${shards}`,
    args: ['--shards', String(shards)],
  })),
  { name: '--fsync batch (default)', args: ['--fsync', 'batch'] },
  {
    name: '--fsync batch --fsync-batch-delay-ms 2',
    args: ['--fsync', 'batch', '--fsync-batch-delay-ms', '2'],
  },
  {
    name: '--fsync interval (--fsync-interval-ms 10)',
    args: ['--fsync', 'interval', '--fsync-interval-ms', '10'],
  },
  { name: '--fsync off', args: ['--fsync', 'off'] },
];

async function main() {
  const rows = [];
  for (const setting of SETTINGS) {
    const broker = new WarrenBroker(setting.args);
    await broker.start();
    try {
      for (const load of SWEEP_LOADS) {
        const runs = [];
        for (let run = 0; run < RUNS; run++) {
          const summary = await runPerf(broker.url, ['--duration', SECONDS, ...load.args]);
          runs.push({
            msgsPerSecond: Math.round(summary.rates[load.rate]),
            confirmP99Ms: summary.latency.confirm?.p99Ms ?? null,
            e2eP99Ms: summary.latency.endToEnd?.p99Ms ?? null,
          });
          console.log(
            `${setting.name} | ${load.name} | run ${run + 1}: ${JSON.stringify(runs.at(-1))}`,
          );
        }
        rows.push({
          setting: setting.name,
          load: load.name,
          runs,
          msgsPerSecond: median(runs.map((run) => run.msgsPerSecond)),
          confirmP99Ms: median(runs.map((run) => run.confirmP99Ms)),
          e2eP99Ms: median(runs.map((run) => run.e2eP99Ms)),
        });
      }
    } finally {
      await broker.stop();
      await broker.destroy();
    }
  }
  const info = machine();
  const directory = join(root, 'bench/results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    join(directory, 'sweep.json'),
    `${JSON.stringify({ machine: info, runs: RUNS, seconds: Number(SECONDS), rows }, null, 2)}\n`,
  );
  console.log(`\n${sweepTable(rows)}`);
  writeBenchmarksPage();
}

await main();
