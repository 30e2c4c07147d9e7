#!/usr/bin/env node
// Warren next to RabbitMQ on this machine in the same run: the same warren-perf load against
// both, runs interleaved (W R W R ...), medians of several. Writes bench/results/compare.json and
// compare.svg (chart), then regenerates docs/benchmarks.md.
//
//   npm run bench:compare -- [--runs 3] [--seconds 8] [--deep 1000000] [--skip-rabbitmq]
//                            [--only NAME-SUBSTRING]
//
// RabbitMQ is Debian's rabbitmq-server on a private side node (scripts/rabbitmq-side-node.sh
// installs it if missing). Persistent scenarios use durable queues: both brokers fdatasync
// before confirming. Each broker gets a fresh process for the memory scenarios.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import { versusTable, writeBenchmarksPage } from './benchmarks-page.mjs';
import { renderChart } from './chart.mjs';
import { LOADS } from './loads.mjs';
import { machine, median, mib, RabbitBroker, root, runPerf, sleep, WarrenBroker } from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    deep: { type: 'string', default: '1000000' },
    connections: { type: 'string', default: '1000' },
    queues: { type: 'string', default: '10000' },
    only: { type: 'string' },
    'skip-rabbitmq': { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const SECONDS = String(Number(flags.seconds));
const DEEP_MESSAGES = Number(flags.deep);
const IDLE_CONNECTIONS = Number(flags.connections);
const MANY_QUEUES = Number(flags.queues);

// ---------------------------------------------------------------- load scenarios (warren-perf)

/** The figures kept from one warren-perf summary; `rate` picks the throughput that matters. */
function perfFigures(summary, rate) {
  const endToEnd = summary.latency.endToEnd;
  const confirm = summary.latency.confirm;
  return {
    msgsPerSecond: Math.round(summary.rates[rate]),
    e2eP50Ms: endToEnd?.p50Ms ?? null,
    e2eP99Ms: endToEnd?.p99Ms ?? null,
    ...(confirm !== null ? { confirmP99Ms: confirm.p99Ms } : {}),
    generatorCpuPercent: summary.cpu.percentOfOneCore,
  };
}

function perfScenario({ name, args, rate }) {
  return {
    name,
    kind: 'throughput',
    args,
    run: async (broker) => {
      const summary = await runPerf(broker.url, ['--duration', SECONDS, ...args]);
      if (summary.error !== null) throw new Error(`${name}: ${JSON.stringify(summary.error)}`);
      return { ...perfFigures(summary, rate), latency: summary.latency };
    },
  };
}

const LOAD_SCENARIOS = [
  LOADS.transient1to1,
  LOADS.transient1KiB,
  LOADS.persistent1,
  LOADS.persistent16,
  LOADS.fourByFour,
  LOADS.fanout,
  LOADS.ttlDeadLetter,
].map((load) => perfScenario(load));
LOAD_SCENARIOS.push({ ...perfScenario(LOADS.fixedRate), kind: 'latency' });

// ---------------------------------------------------------------- memory scenarios

/** A fresh broker process, so earlier scenarios' memory does not blur the figure. */
async function freshBroker(broker) {
  await broker.stop();
  // Warren also starts on an empty data dir: replaying earlier scenarios' log would blur it.
  if (broker instanceof WarrenBroker) {
    await broker.destroy();
    broker.dataDir = undefined;
  }
  await broker.start();
  await sleep(1500);
}

async function deepQueue(broker) {
  await freshBroker(broker);
  const baseline = broker.rssBytes();
  const queue = ['--queue', 'bench.deep', '--durable', '--keep-queues'];
  const fill = await runPerf(broker.url, [
    ...queue,
    '--producers',
    '1',
    '--consumers',
    '0',
    '--size',
    '100',
    '--persistent',
    '--confirm',
    '1000',
    '--messages',
    String(DEEP_MESSAGES),
  ]);
  await sleep(3000);
  const queued = broker.rssBytes();
  const drain = await runPerf(broker.url, [
    ...queue,
    '--producers',
    '0',
    '--consumers',
    '1',
    '--multi-ack',
    '100',
    '--prefetch',
    '1000',
    '--consumer-messages',
    String(DEEP_MESSAGES),
  ]);
  await deleteQueues(broker.url, ['bench.deep']);
  return {
    fillPerSecond: Math.round(fill.rates.confirmedPerSecond),
    rssWithQueueMiB: mib(queued),
    bytesPerMessage: Math.round((queued - baseline) / DEEP_MESSAGES),
    drainPerSecond: Math.round(drain.rates.receivedPerSecond),
  };
}

async function deleteQueues(url, names) {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  for (const name of names) await channel.deleteQueue(name);
  await connection.close();
}

async function idleConnections(broker) {
  await freshBroker(broker);
  // Warm up the accept path first, so the baseline is not a fresh heap that shrinks later.
  await Promise.all(
    Array.from({ length: 20 }, async () => (await amqp.connect(broker.url)).close()),
  );
  await sleep(3000);
  const baseline = broker.rssBytes();
  const connections = [];
  try {
    for (let i = 0; i < IDLE_CONNECTIONS; i++) {
      const connection = await amqp.connect(broker.url);
      for (let c = 0; c < 10; c++) await connection.createChannel();
      connections.push(connection);
    }
    await sleep(3000);
    const loaded = broker.rssBytes();
    return {
      rssMiB: mib(loaded),
      kibPerConnection: Math.round((loaded - baseline) / IDLE_CONNECTIONS / 1024),
    };
  } finally {
    await Promise.all(connections.map((connection) => connection.close().catch(() => {})));
  }
}

async function manyQueues(broker) {
  await freshBroker(broker);
  const baseline = broker.rssBytes();
  const connection = await amqp.connect(broker.url);
  try {
    const channel = await connection.createChannel();
    const startedMs = performance.now();
    // Pipelined like a client declaring its topology at start, 100 in flight.
    for (let i = 0; i < MANY_QUEUES; i += 100) {
      const declares = [];
      for (let j = i; j < Math.min(i + 100, MANY_QUEUES); j++) {
        declares.push(channel.assertQueue(`bench.many.${j}`, { exclusive: true }));
      }
      await Promise.all(declares);
    }
    const elapsedMs = performance.now() - startedMs;
    await sleep(2000);
    const loaded = broker.rssBytes();
    return {
      declaresPerSecond: Math.round((MANY_QUEUES / elapsedMs) * 1000),
      rssMiB: mib(loaded),
      kibPerQueue: Math.round(((loaded - baseline) / MANY_QUEUES / 1024) * 10) / 10,
    };
  } finally {
    // Exclusive queues go with their connection.
    await connection.close();
  }
}

const MEMORY_SCENARIOS = [
  {
    name: `${DEEP_MESSAGES.toLocaleString('en')} persistent 100 B queued, then drained`,
    kind: 'memory',
    run: deepQueue,
  },
  {
    name: `${IDLE_CONNECTIONS.toLocaleString('en')} idle connections × 10 channels`,
    kind: 'memory',
    run: idleConnections,
  },
  { name: `${MANY_QUEUES.toLocaleString('en')} queues declared`, kind: 'memory', run: manyQueues },
];

// ---------------------------------------------------------------- report

const HEADLINE = {
  throughput: ['msgsPerSecond', 'e2eP99Ms', 'confirmP99Ms'],
  latency: ['e2eP50Ms', 'e2eP99Ms', 'confirmP99Ms'],
};

function summarize(results) {
  const summary = {};
  for (const [scenario, { kind, byBroker }] of Object.entries(results)) {
    summary[scenario] = { kind, measures: {} };
    const measures = Object.keys(byBroker.warren?.[0] ?? {}).filter(
      (key) => key !== 'latency' && (HEADLINE[kind] === undefined || HEADLINE[kind].includes(key)),
    );
    for (const measure of measures) {
      const pick = (runs) => (runs === undefined ? null : median(runs.map((run) => run[measure])));
      summary[scenario].measures[measure] = {
        warren: pick(byBroker.warren),
        rabbitmq: pick(byBroker.rabbitmq),
      };
    }
  }
  return summary;
}

/** The run with the median throughput, whose latency percentiles the chart draws. */
function medianRun(runs) {
  if (runs === undefined || runs.length === 0) return null;
  const sorted = [...runs].sort((a, b) => a.msgsPerSecond - b.msgsPerSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const scenarios = [...LOAD_SCENARIOS, ...MEMORY_SCENARIOS].filter(
    (scenario) => flags.only === undefined || scenario.name.includes(flags.only),
  );
  const brokers = [new WarrenBroker()];
  if (!flags['skip-rabbitmq']) brokers.push(new RabbitBroker());
  const results = {};
  for (const broker of brokers) await broker.start();
  try {
    for (const scenario of scenarios) {
      results[scenario.name] = { kind: scenario.kind, byBroker: {} };
      for (let run = 0; run < RUNS; run++) {
        for (const broker of brokers) {
          const outcome = await scenario.run(broker);
          (results[scenario.name].byBroker[broker.name] ??= []).push(outcome);
          const { latency, ...figures } = outcome;
          console.log(
            `${scenario.name} | ${broker.name} | run ${run + 1}: ${JSON.stringify(figures)}`,
          );
        }
      }
    }
  } finally {
    for (const broker of brokers) {
      await broker.stop().catch(() => undefined);
      await broker.destroy();
    }
  }
  const summary = summarize(results);
  const info = machine();
  const report = { machine: info, runs: RUNS, seconds: Number(SECONDS), summary, results };
  const directory = join(root, 'bench/results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'compare.json'), `${JSON.stringify(report, null, 2)}\n`);
  const latencyScenario = LOAD_SCENARIOS.find((scenario) => scenario.kind === 'latency')?.name;
  const chart = renderChart({
    title: `Warren vs RabbitMQ — ${info.cpus} cores, ${info.date.slice(0, 10)}`,
    throughput: Object.entries(summary)
      .filter(([, { kind }]) => kind === 'throughput')
      .map(([name, { measures }]) => ({ name, ...measures.msgsPerSecond })),
    latency:
      latencyScenario === undefined || results[latencyScenario] === undefined
        ? null
        : {
            name: latencyScenario,
            warren: medianRun(results[latencyScenario].byBroker.warren)?.latency.endToEnd ?? null,
            rabbitmq:
              medianRun(results[latencyScenario].byBroker.rabbitmq)?.latency.endToEnd ?? null,
          },
  });
  writeFileSync(join(directory, 'compare.svg'), chart);
  const measures = Object.fromEntries(
    Object.entries(summary).map(([name, { measures }]) => [name, measures]),
  );
  console.log(`\n${versusTable(measures)}`);
  writeBenchmarksPage();
}

await main();
