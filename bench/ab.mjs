#!/usr/bin/env node
// A/B of two Warren builds on the same loads, interleaved (A B A B ...), medians of several runs:
// did a change slow the plain path? Warren only; warren-perf from this checkout drives both.
//
//   npm run bench:ab -- --baseline ../warren-before [--runs 3] [--seconds 6]
//                       [--loads transient1to1,fanout,persistent1] (keys of bench/loads.mjs)
//
// The baseline is another checkout of Warren, already built (npm ci && npm run build there).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, machineLine, median, root, runPerf, WarrenBroker } from './lib.mjs';
import { LOADS } from './loads.mjs';

const { values: flags } = parseArgs({
  options: {
    baseline: { type: 'string' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '6' },
    name: { type: 'string', default: 'ab' },
    loads: { type: 'string', default: 'transient1to1,fanout,persistent1' },
  },
});
if (flags.baseline === undefined) {
  console.error('usage: bench/ab.mjs --baseline PATH-TO-BUILT-CHECKOUT [--runs N] [--seconds S]');
  process.exit(2);
}
const RUNS = Number(flags.runs);
const SECONDS = String(Number(flags.seconds));

const AB_LOADS = flags.loads.split(',').map((key) => {
  if (LOADS[key] === undefined) {
    console.error(`unknown load ${key}; known: ${Object.keys(LOADS).join(', ')}`);
    process.exit(2);
  }
  return LOADS[key];
});

async function main() {
  const builds = [
    { label: 'baseline', broker: new WarrenBroker([], resolve(flags.baseline)) },
    { label: 'this checkout', broker: new WarrenBroker() },
  ];
  for (const build of builds) await build.broker.start();
  const rows = [];
  try {
    for (const load of AB_LOADS) {
      const byBuild = new Map(builds.map((build) => [build.label, []]));
      for (let run = 0; run < RUNS; run++) {
        for (const build of builds) {
          const summary = await runPerf(build.broker.url, ['--duration', SECONDS, ...load.args]);
          const rate = Math.round(summary.rates[load.rate]);
          byBuild.get(build.label).push(rate);
          console.log(`${load.name} | ${build.label} | run ${run + 1}: ${rate} msg/s`);
        }
      }
      const baseline = median(byBuild.get('baseline'));
      const current = median(byBuild.get('this checkout'));
      rows.push({
        load: load.name,
        baseline,
        current,
        ratio: current / baseline,
        runs: Object.fromEntries(byBuild),
      });
    }
  } finally {
    for (const build of builds) {
      await build.broker.stop();
      await build.broker.destroy();
    }
  }
  const info = machine();
  const markdown = [
    `Machine: ${machineLine(info)}. Warren A/B, medians of ${RUNS} interleaved runs of ${SECONDS} s.`,
    '',
    '| load | baseline msg/s | this checkout msg/s | change |',
    '|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.load} | ${row.baseline.toLocaleString('en')} | ${row.current.toLocaleString('en')} | ${((row.ratio - 1) * 100).toFixed(1)} % |`,
    ),
    '',
  ].join('\n');
  const directory = join(root, 'bench/results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    join(directory, `${flags.name}.json`),
    `${JSON.stringify({ machine: info, rows }, null, 2)}\n`,
  );
  writeFileSync(join(directory, `${flags.name}.md`), markdown);
  console.log(`\n${markdown}`);
}

await main();
