#!/usr/bin/env node
// Durability benchmark, Warren next to RabbitMQ on this machine in the same run:
//   - persistent 1 KiB publishes with confirms to durable queues, 1 and 16 publishers:
//     confirmed msgs/s and publish-to-confirm latency (hdr-histogram-js);
//   - memory per queued message with 1,000,000 persistent 100 B messages queued (broker RSS);
//   - recovery time of those 1,000,000 messages after a restart.
// Runs alternate Warren and RabbitMQ (W R W R ...), several each; the table shows medians and
// the ratio Warren / RabbitMQ. Results go to bench/results/durability.json, then
// docs/benchmarks.md is regenerated.
//
//   npm run bench:durability -- [--runs 3] [--seconds 5] [--messages 1000000] [--skip-rabbitmq]
//
// RabbitMQ comes from Debian's package on a private side node (scripts/rabbitmq-side-node.sh).
// Both brokers fdatasync before confirming (Warren's default fsync mode is batch).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import hdr from 'hdr-histogram-js';
import { versusTable, writeBenchmarksPage } from './benchmarks-page.mjs';
import { machine, median, RabbitBroker, root, sleep, WarrenBroker } from './lib.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '1000000' },
    'skip-rabbitmq': { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const SECONDS = Number(flags.seconds);
const QUEUED_MESSAGES = Number(flags.messages);

// ---------------------------------------------------------------- scenarios

async function resetQueues(url, names) {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  for (const name of names) {
    await channel.assertQueue(name, { durable: true });
    await channel.purgeQueue(name);
  }
  await connection.close();
}

/** Persistent 1 KiB publishes with confirms for SECONDS; a bounded window per publisher. */
async function confirmedPublishing(url, publishers, queues, window) {
  const names = Array.from({ length: queues }, (_, i) => `bench.durable.${i}`);
  await resetQueues(url, names);
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const body = Buffer.alloc(1024, 42);
  let confirmed = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const startedMs = Date.now();
  await Promise.all(
    Array.from({ length: publishers }, async (_, index) => {
      const connection = await amqp.connect(url);
      const channel = await connection.createConfirmChannel();
      const queue = names[index % queues];
      let inFlight = 0;
      await new Promise((resolve) => {
        const pump = () => {
          while (inFlight < window && Date.now() < deadline) {
            inFlight++;
            const sentNs = process.hrtime.bigint();
            channel.sendToQueue(queue, body, { persistent: true }, () => {
              histogram.recordValue(Number((process.hrtime.bigint() - sentNs) / 1000n));
              inFlight--;
              confirmed++;
              if (Date.now() < deadline) pump();
              else if (inFlight === 0) resolve();
            });
          }
        };
        pump();
      });
      await connection.close();
    }),
  );
  const elapsedMs = Date.now() - startedMs;
  await resetQueues(url, names);
  return {
    msgsPerSecond: Math.round((confirmed / elapsedMs) * 1000),
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
  };
}

/** Fills one durable queue with QUEUED_MESSAGES persistent 100 B messages, with confirms. */
async function fill(url) {
  await resetQueues(url, ['bench.deep']);
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  const body = Buffer.alloc(100, 7);
  let sent = 0;
  let confirmed = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (sent - confirmed < 1000 && sent < QUEUED_MESSAGES) {
        sent++;
        channel.sendToQueue('bench.deep', body, { persistent: true }, () => {
          confirmed++;
          if (confirmed === QUEUED_MESSAGES) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await connection.close();
}

async function queueDepth(url) {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  const { messageCount } = await channel.checkQueue('bench.deep');
  await connection.close();
  return messageCount;
}

/** RSS per queued message, then the time a restart takes until the queue is back in full. */
async function deepQueue(broker) {
  // A fresh process, so earlier scenarios' memory does not blur the figure.
  await broker.stop();
  await broker.start();
  await sleep(1000);
  await fill(broker.url);
  await sleep(2000);
  const after = broker.rssBytes();
  await broker.stop();
  const startedMs = Date.now();
  await broker.start();
  // RabbitMQ may finish recovering a queue after the node reports ready: wait for the count.
  while ((await queueDepth(broker.url)) < QUEUED_MESSAGES) await sleep(50);
  const recoveryMs = Date.now() - startedMs;
  const rssAfterRecovery = broker.rssBytes();
  await resetQueues(broker.url, ['bench.deep']);
  return {
    rssWithQueueMiB: Math.round(after / 1048576),
    recoveryMs,
    rssAfterRecoveryMiB: Math.round(rssAfterRecovery / 1048576),
  };
}

const SCENARIOS = [
  {
    name: 'persistent 1 KiB, confirms, 1 publisher',
    run: (broker) => confirmedPublishing(broker.url, 1, 1, 256),
  },
  {
    name: 'persistent 1 KiB, confirms, 16 publishers',
    run: (broker) => confirmedPublishing(broker.url, 16, 4, 64),
  },
  {
    name: `${QUEUED_MESSAGES} persistent 100 B queued, then restart`,
    run: (broker) => deepQueue(broker),
  },
];

async function main() {
  const brokers = [new WarrenBroker()];
  if (!flags['skip-rabbitmq']) brokers.push(new RabbitBroker());
  const results = {};
  for (const broker of brokers) await broker.start();
  try {
    for (const scenario of SCENARIOS) {
      results[scenario.name] = {};
      for (let run = 0; run < RUNS; run++) {
        for (const broker of brokers) {
          const outcome = await scenario.run(broker);
          (results[scenario.name][broker.name] ??= []).push(outcome);
          console.log(
            `${scenario.name} | ${broker.name} | run ${run + 1}: ${JSON.stringify(outcome)}`,
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
  const summary = {};
  for (const [scenario, byBroker] of Object.entries(results)) {
    summary[scenario] = {};
    for (const measure of Object.keys(byBroker.warren[0])) {
      const warren = median(byBroker.warren.map((outcome) => outcome[measure]));
      const rabbit =
        byBroker.rabbitmq === undefined
          ? null
          : median(byBroker.rabbitmq.map((outcome) => outcome[measure]));
      summary[scenario][measure] = { warren, rabbitmq: rabbit };
    }
  }
  const report = { machine: machine(), runs: RUNS, seconds: SECONDS, results, summary };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    join(root, 'bench/results/durability.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log(`\n${versusTable(summary)}`);
  writeBenchmarksPage();
}

await main();
