#!/usr/bin/env node
// Writes docs/benchmarks.md from the results the benchmarks left in bench/results/*.json: what
// each benchmark measures, the command that runs it, the machine and date of the result, and its
// figures. Nothing on the page is typed by hand, so it always shows the latest results. The
// benchmark scripts call writeBenchmarksPage() after writing their JSON; `npm run docs:benchmarks`
// runs it alone. Pure formatting: the JSON shapes are those the scripts write.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, root } from './lib.mjs';

const RESULTS = join(root, 'bench/results');
const PAGE = join(root, 'docs/benchmarks.md');

function readResult(name) {
  const path = join(RESULTS, `${name}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

/** Integers with thousands separators; other numbers with 2 decimals below 10, else 1. */
export function formatValue(value) {
  if (value === null || value === undefined) return '';
  if (Number.isInteger(value)) return value.toLocaleString('en');
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function ratio(warren, rabbitmq) {
  if (warren === null || rabbitmq === null || rabbitmq === undefined || rabbitmq === 0) return '';
  return `${(warren / rabbitmq).toFixed(2)}×`;
}

/** Warren against RabbitMQ: `summary` maps scenario → measure → { warren, rabbitmq }. */
export function versusTable(summary) {
  const lines = [
    '| scenario | measure | Warren | RabbitMQ | Warren / RabbitMQ |',
    '|---|---|---|---|---|',
  ];
  for (const [scenario, measures] of Object.entries(summary)) {
    for (const [measure, { warren, rabbitmq }] of Object.entries(measures)) {
      lines.push(
        `| ${scenario} | ${measure} | ${formatValue(warren)} | ${formatValue(rabbitmq)} | ${ratio(warren, rabbitmq)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function sweepTable(rows) {
  return [
    '| setting | load | msg/s | confirm p99 ms | e2e p99 ms |',
    '|---|---|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.setting} | ${row.load} | ${formatValue(row.msgsPerSecond)} | ${formatValue(row.confirmP99Ms)} | ${formatValue(row.e2eP99Ms)} |`,
    ),
  ].join('\n');
}

function formatInteger(value) {
  return value === null ? '—' : Math.round(value).toLocaleString('en-US');
}

function formatNanoseconds(value) {
  if (value === null) return '—';
  return value < 100 ? value.toFixed(1) : formatInteger(value);
}

/** The columns of a micro-benchmark row, as text; the console table and the page share them. */
export const MICRO_COLUMNS = ['suite', 'task', 'op', 'ops/s', 'mean ns', 'p99 ns', 'samples'];

export function microCells(row) {
  return [
    row.suite,
    row.task,
    row.op,
    formatInteger(row.opsPerSecond),
    formatNanoseconds(row.meanNs),
    formatNanoseconds(row.p99Ns),
    formatInteger(row.samples),
  ];
}

export function microTable(rows) {
  const columns = [...MICRO_COLUMNS, 'notes'];
  return [
    `| ${columns.join(' | ')} |`,
    `|${columns.map((_, column) => (column >= 3 && column < 7 ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${[...microCells(row), row.notes].join(' | ')} |`),
  ].join('\n');
}

/** The soak verdict's growth checks: first half against second half of the run. */
export function soakChecksTable(checks) {
  return [
    '| check | first half | second half | allowed | ok |',
    '|---|---:|---:|---:|---|',
    ...checks.map(
      (check) =>
        `| ${check.name} | ${Math.round(check.before)} | ${Math.round(check.after)} | ${Math.round(check.allowed)} | ${check.ok ? 'yes' : 'NO'} |`,
    ),
  ].join('\n');
}

const MISSING = 'No result yet: run the command above.';

function compareSection() {
  const result = readResult('compare');
  const summary =
    result === null
      ? null
      : Object.fromEntries(
          Object.entries(result.summary).map(([name, { measures }]) => [name, measures]),
        );
  return [
    '## Warren and RabbitMQ',
    '',
    "`npm run bench:compare` builds Warren, installs and starts RabbitMQ from Debian's package on a",
    'private side node if needed (`scripts/rabbitmq-side-node.sh`), and drives both with the same',
    '`warren-perf` loads, interleaved (Warren, RabbitMQ, Warren, …). Persistent scenarios use',
    'durable queues, so both brokers fdatasync before confirming. Throughput is what consumers',
    'received (or, with confirms, what was confirmed); latency is end to end (publish to delivery)',
    'and publish to confirm. The memory scenarios start each broker fresh (Warren on an empty data',
    'directory, without its management server, like the side node without its plugin). Unlimited',
    'rate end-to-end latencies measure the backlog a broker lets build while publishers outrun',
    'consumers.',
    '',
    ...(result === null
      ? [MISSING]
      : [
          `Machine: ${machineLine(result.machine)}. Medians of ${result.runs} interleaved runs of ${result.seconds} s.`,
          '',
          '![Warren and RabbitMQ: throughput per scenario and latency percentiles at a fixed rate](../bench/results/compare.svg)',
          '',
          versusTable(summary),
        ]),
  ];
}

function sweepSection() {
  const result = readResult('sweep');
  return [
    '## Shards and fsync settings',
    '',
    '`npm run bench:sweep` runs three loads against Warren alone with each shard count and each',
    'fsync setting. How to choose from these figures is in',
    '[operations](operations.md#tuning-shards-and-fsync).',
    '',
    ...(result === null
      ? [MISSING]
      : [
          `Machine: ${machineLine(result.machine)}. Medians of ${result.runs} runs of ${result.seconds} s.`,
          '',
          sweepTable(result.rows),
        ]),
  ];
}

function durabilitySection() {
  const result = readResult('durability');
  return [
    '## Durability',
    '',
    '`npm run bench:durability` runs Warren and RabbitMQ (as for the comparison above) on the same',
    'machine, alternating runs, with amqplib clients in one process; both brokers fdatasync before',
    'confirming. The last scenario queues a million persistent messages, restarts the broker and',
    'measures the time until they are back and the memory it holds then.',
    '',
    ...(result === null
      ? [MISSING]
      : [
          `Machine: ${machineLine(result.machine)}. Medians of ${result.runs} alternating runs.`,
          '',
          versusTable(result.summary),
        ]),
  ];
}

function microSection() {
  const result = readResult('micro');
  const machine = result?.machine;
  return [
    '## Micro-benchmarks',
    '',
    '`npm run bench:micro` builds and times the hot paths one by one in a single process (about',
    '50 s; `-- --quick` takes about 10 s, `-- --only frames,topic` picks suites): frame parsing and',
    'the codec calls the network thread makes for each publish, frame encoding, field tables, topic',
    "matching, the SharedArrayBuffer ring between two threads, and the log's group commit. Frames,",
    'field tables and topic run under tinybench: each sample is the mean time per operation over a',
    'batch of them, so p99 is the 99th percentile of those batch means. The ring (a producer worker',
    'thread writing flat out to this thread) and the log (a writer appending bursts of 64 records,',
    'asking for a sync after each, with at most 16,384 records not yet durable) are timed loops:',
    'ops/s over the whole loop, no p99, and samples counts their records. MemoryStorage, a test',
    'double, copies its whole segment on every write and is not a measure of the log.',
    '',
    ...(result === null
      ? [MISSING]
      : [
          `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ` +
            `Linux ${machine.kernel}, load average ${machine.loadAverage1m} at the start; ${machine.date}.` +
            (result.quick ? ' Quick run.' : ''),
          '',
          microTable(result.results),
        ]),
  ];
}

function soakSection() {
  const result = readResult('soak');
  const lines = [
    '## Soak',
    '',
    '`npm run soak -- --duration 1800 --out bench/results/soak` runs mixed load for half an hour',
    'and checks that nothing is lost and nothing grows without bound (see',
    '[contributing](contributing.md#robustness-scripts) for what it does and checks).',
    '',
  ];
  if (result === null) return [...lines, MISSING];
  const { settings, totals } = result;
  return [
    ...lines,
    `Machine: ${machineLine(result.machine)}; Warren ${result.commit}. ${settings.DURATION_S} s at ` +
      `${settings.RATE} msg/s from ${settings.PUBLISHERS} publishers to ${settings.QUEUES} queues, ` +
      `${settings.CONSUMERS} consumers, ${settings.SIZE} B messages, ${settings.SHARDS} shard(s).`,
    '',
    `Published ${totals.published}, confirmed ${totals.confirmed}, nacked ${totals.nacked}, ` +
      `consumed ${totals.consumed} (lost ${totals.lost}, redelivered duplicates ${totals.duplicates}); ` +
      `${totals.churnCycles} short-lived clients, ${totals.reconnects} consumer reconnects; ` +
      `client errors: ${totals.errors.length}. Verdict: ${result.verdict.ok ? 'pass' : 'FAIL'}.`,
    '',
    soakChecksTable(result.verdict.checks),
    '',
    '![Soak samples: RSS, descriptors, data directory, latency and rate over time](../bench/results/soak.svg)',
  ];
}

/** The whole page, from whatever results exist now. */
export function renderBenchmarksPage() {
  const sections = [
    [
      '# Benchmarks',
      '',
      '<!-- Generated by bench/benchmarks-page.mjs from bench/results/*.json; do not edit. -->',
      '',
      'Every figure here comes from the JSON a benchmark script wrote to `bench/results/`; each',
      'section names its command and the machine and date of the run. The benchmark scripts',
      'regenerate this page; `npm run docs:benchmarks` does it alone. Figures from a shared',
      'machine vary between runs by up to about 10 % for the loads and 2× for single rows of the',
      'micro-benchmarks.',
      '',
      'The loads come from `warren-perf`, a load generator for any AMQP 0-9-1 broker that takes',
      "RabbitMQ PerfTest's flag names (`npm run perf -- --help`). Its producers and consumers run on",
      'client threads with a lean AMQP client of their own that publishes pre-encoded frames, so the',
      'generator is rarely the bottleneck; every body carries its send time, and end-to-end and',
      'publish-to-confirm latencies go into hdr-histogram-js histograms. With `--json` it prints one',
      'summary object.',
      '',
      '```sh',
      'npm run build && npm run perf -- --uri amqp://guest:guest@127.0.0.1:5672 \\',
      '  --producers 4 --consumers 4 --size 1024 --persistent --confirm 256 --multi-ack 64 \\',
      '  --prefetch 512 --queues 4 --duration 10',
      '```',
    ],
    compareSection(),
    sweepSection(),
    durabilitySection(),
    microSection(),
    soakSection(),
  ];
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

export function writeBenchmarksPage() {
  writeFileSync(PAGE, renderBenchmarksPage());
  console.log('wrote docs/benchmarks.md');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeBenchmarksPage();
