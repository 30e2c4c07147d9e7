#!/usr/bin/env node
// Soak: a long run of mixed load against a Warren started here (dist/), sampling the broker's
// memory, file descriptors, threads and data directory, and end-to-end latency, every few
// seconds into a report with a chart. The load: steady publishers (confirm channels, half the
// messages persistent) and consumers on a few durable queues, consumers that drop their
// connection now and then (their unacked messages come back), and short-lived clients that
// connect, declare and bind a queue, publish, read and delete it, and leave. At the end the
// publishers stop, the queues drain, and every confirmed message must have been consumed.
//
// Nothing may grow without bound: the verdict compares the first and the second half of the
// steady part of the run (after a warm-up) and fails on growth past the allowances below.
//
//   npm run soak -- [--duration 3600] [--sample 5] [--rate 2000] [--publishers 4]
//                   [--consumers 4] [--queues 4] [--size 256] [--shards N] [--out PREFIX]
//
// Exit code 0 when the verdict passes, 1 when it fails.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import * as hdr from 'hdr-histogram-js';
import { soakChecksTable } from '../bench/benchmarks-page.mjs';
import { renderTimeSeries } from '../bench/chart.mjs';
import { machine, machineLine, mib, root, rssBytesOf, sleep, WarrenBroker } from '../bench/lib.mjs';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '3600' },
    sample: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2000' },
    publishers: { type: 'string', default: '4' },
    consumers: { type: 'string', default: '4' },
    queues: { type: 'string', default: '4' },
    size: { type: 'string', default: '256' },
    shards: { type: 'string' },
    out: { type: 'string' },
  },
});

const DURATION_S = Number(flags.duration);
// The broker's default: one shard per core but one, at least one.
const SHARDS = Number(flags.shards ?? Math.max(1, cpus().length - 1));
const SAMPLE_S = Number(flags.sample);
const RATE = Number(flags.rate);
const PUBLISHERS = Number(flags.publishers);
const CONSUMERS = Number(flags.consumers);
const QUEUES = Number(flags.queues);
const SIZE = Math.max(16, Number(flags.size));
const TICK_MS = 10;
const OUTSTANDING_CONFIRMS_MAX = 2000;
const CHURN_EVERY_MS = 250;
const CONSUMER_RECONNECT_EVERY_MS = 10_000;
const DRAIN_TIMEOUT_MS = 60_000;

// Allowed growth from the first to the second half of the steady run.
const RSS_GROWTH_MAX = { bytes: 48 * 2 ** 20, fraction: 0.25 };
const FD_GROWTH_MAX = 8;
// A shard's log may hold dead segments up to its compaction threshold (128 MiB) plus the active
// and the last sealed segment (64 MiB each) before it shrinks again: that much is not growth.
const DATA_GROWTH_MAX_PER_SHARD_BYTES = 256 * 2 ** 20;

const totals = {
  published: 0,
  confirmed: 0,
  nacked: 0,
  consumed: 0,
  duplicates: 0,
  churnCycles: 0,
  reconnects: 0,
  errors: [],
};
const latencyWindow = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
const seenByPublisher = [];

/** One bit per message sequence number of one publisher: consumed at least once. */
class SeenBits {
  bits = new Uint8Array(1 << 16);

  mark(seq) {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    const isNew = (this.bits[byte] & mask) === 0;
    this.bits[byte] |= mask;
    return isNew;
  }
}

function nowMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function queueName(index) {
  return `soak.q${index}`;
}

function noteError(where, error) {
  if (totals.errors.length < 50) totals.errors.push(`${where}: ${error.message ?? error}`);
}

async function runPublisher(url, index, stopAt) {
  const connection = await amqp.connect(url);
  connection.on('error', (error) => noteError(`publisher ${index}`, error));
  const channel = await connection.createConfirmChannel();
  const perTick = (RATE / PUBLISHERS) * (TICK_MS / 1000);
  let owed = 0;
  let seq = 0;
  let outstanding = 0;
  const body = Buffer.alloc(SIZE, 0x61);
  while (Date.now() < stopAt) {
    owed += perTick;
    while (owed >= 1 && outstanding < OUTSTANDING_CONFIRMS_MAX) {
      owed -= 1;
      body.writeUInt32LE(index, 0);
      body.writeUInt32LE(seq, 4);
      body.writeDoubleLE(nowMicros(), 8);
      outstanding++;
      totals.published++;
      channel.sendToQueue(
        queueName(seq % QUEUES),
        Buffer.from(body),
        { persistent: seq % 2 === 0 },
        (error) => {
          outstanding--;
          if (error === null || error === undefined) totals.confirmed++;
          else totals.nacked++;
        },
      );
      seq++;
    }
    await sleep(TICK_MS);
  }
  await channel.waitForConfirms();
  await connection.close();
}

/** A consumer on every queue; returns a handle to drop and replace its connection. */
async function startConsumer(url, index) {
  const connection = await amqp.connect(url);
  connection.on('error', (error) => noteError(`consumer ${index}`, error));
  const channel = await connection.createChannel();
  await channel.prefetch(200);
  let sinceAck = 0;
  /** The newest delivery not yet acked: the flusher acks up to it, never beyond what we saw. */
  let lastUnacked = null;
  for (let q = 0; q < QUEUES; q++) {
    await channel.consume(queueName(q), (message) => {
      if (message === null) return;
      const content = message.content;
      const publisher = content.readUInt32LE(0);
      const seq = content.readUInt32LE(4);
      const sentMicros = content.readDoubleLE(8);
      latencyWindow.recordValue(Math.max(1, nowMicros() - sentMicros));
      seenByPublisher[publisher] ??= new SeenBits();
      if (seenByPublisher[publisher].mark(seq)) totals.consumed++;
      else totals.duplicates++;
      lastUnacked = message;
      if (++sinceAck === 10) {
        channel.ack(message, true);
        sinceAck = 0;
        lastUnacked = null;
      }
    });
  }
  // Acks the stragglers now and then, so a quiet queue does not hold its last few unacked. Not
  // ackAll(): that acks what the broker has sent, including deliveries still on their way here,
  // whose own acks would then be for unknown tags (406, on RabbitMQ too).
  const flusher = setInterval(() => {
    if (lastUnacked === null) return;
    const message = lastUnacked;
    lastUnacked = null;
    sinceAck = 0;
    try {
      channel.ack(message, true);
    } catch (error) {
      // The connection is gone: its 'error' event says why.
      clearInterval(flusher);
      noteError(`consumer ${index} ack`, error);
    }
  }, 200);
  return {
    async close() {
      clearInterval(flusher);
      await connection.close().catch(() => undefined);
    },
  };
}

/** A short-lived client: connect, declare and bind a queue, publish, read, delete, leave. */
async function churnOnce(url, cycle) {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const name = `soak.churn.${cycle}`;
    await channel.assertExchange('soak.churn', 'topic', { durable: false });
    await channel.assertQueue(name, { durable: false });
    await channel.bindQueue(name, 'soak.churn', `churn.${cycle}`);
    for (let i = 0; i < 10; i++)
      channel.publish('soak.churn', `churn.${cycle}`, Buffer.alloc(SIZE, 0x62));
    await channel.waitForConfirms();
    let got = 0;
    while ((await channel.get(name, { noAck: true })) !== false) got++;
    if (got !== 10) noteError(`churn ${cycle}`, new Error(`read ${got} of 10 messages`));
    await channel.deleteQueue(name);
    const exclusive = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(exclusive.queue, Buffer.from('x'));
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
  totals.churnCycles++;
}

/** The commit of the Warren checkout under test, so a report says which build it soaked. */
function commitOf(directory) {
  try {
    return execFileSync('git', ['-C', directory, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function threadCount(pid) {
  return readdirSync(`/proc/${pid}/task`).length;
}

function directoryBytes(directory) {
  let bytes = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    bytes += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return bytes;
}

function mean(values) {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

/** Growth checks between the two halves of the steady part of the run. */
function verdictOf(samples) {
  const warmup = Math.min(Math.ceil(samples.length * 0.2), Math.ceil(60 / SAMPLE_S));
  const steady = samples.slice(warmup);
  const half = Math.floor(steady.length / 2);
  const first = steady.slice(0, half);
  const second = steady.slice(half);
  const checks = [];
  const growth = (name, key, allowance) => {
    const before = mean(first.map((sample) => sample[key]));
    const after = mean(second.map((sample) => sample[key]));
    checks.push({
      name,
      before,
      after,
      allowed: before + allowance(before),
      ok: after <= before + allowance(before),
    });
  };
  growth('broker RSS (bytes)', 'rssBytes', (before) =>
    Math.max(RSS_GROWTH_MAX.bytes, before * RSS_GROWTH_MAX.fraction),
  );
  growth('open file descriptors', 'fds', () => FD_GROWTH_MAX);
  growth('data directory (bytes)', 'dataBytes', () => SHARDS * DATA_GROWTH_MAX_PER_SHARD_BYTES);
  growth('threads', 'threads', () => 0);
  return { checks, ok: half >= 1 && checks.every((check) => check.ok) };
}

async function main() {
  const broker = new WarrenBroker(['--shards', String(SHARDS)]);
  await broker.start();
  const pid = broker.child.pid;
  const url = broker.url;
  const startedMs = Date.now();
  const stopAt = startedMs + DURATION_S * 1000;
  console.log(
    `soak: ${DURATION_S} s against ${url} (pid ${pid}): ${RATE} msg/s from ${PUBLISHERS} publishers to ${QUEUES} queues, ${CONSUMERS} consumers, ${SIZE} B`,
  );

  const setup = await amqp.connect(url);
  const setupChannel = await setup.createChannel();
  for (let q = 0; q < QUEUES; q++) await setupChannel.assertQueue(queueName(q), { durable: true });
  await setup.close();

  const consumers = [];
  for (let c = 0; c < CONSUMERS; c++) consumers.push(await startConsumer(url, c));
  const publishers = [];
  for (let p = 0; p < PUBLISHERS; p++)
    publishers.push(
      runPublisher(url, p, stopAt).catch((error) => noteError(`publisher ${p}`, error)),
    );

  let churnCycle = 0;
  const churnTimer = setInterval(() => {
    if (Date.now() >= stopAt) return;
    churnOnce(url, churnCycle++).catch((error) => noteError('churn', error));
  }, CHURN_EVERY_MS);
  let reconnectIndex = 0;
  const reconnectTimer = setInterval(async () => {
    if (Date.now() >= stopAt) return;
    const slot = reconnectIndex++ % consumers.length;
    await consumers[slot].close();
    consumers[slot] = await startConsumer(url, slot).catch((error) =>
      noteError('reconnect', error),
    );
    totals.reconnects++;
  }, CONSUMER_RECONNECT_EVERY_MS);

  const samples = [];
  let last = { ...totals, atMs: startedMs };
  while (Date.now() < stopAt) {
    await sleep(SAMPLE_S * 1000);
    const atMs = Date.now();
    const seconds = (atMs - last.atMs) / 1000;
    const sample = {
      t: Math.round((atMs - startedMs) / 1000),
      rssBytes: rssBytesOf(pid),
      fds: fdCount(pid),
      threads: threadCount(pid),
      dataBytes: directoryBytes(broker.dataDir),
      publishedPerSecond: Math.round((totals.published - last.published) / seconds),
      consumedPerSecond: Math.round((totals.consumed - last.consumed) / seconds),
      backlog: totals.published - totals.consumed,
      p50Ms: latencyWindow.getValueAtPercentile(50) / 1000,
      p99Ms: latencyWindow.getValueAtPercentile(99) / 1000,
      maxMs: latencyWindow.maxValue / 1000,
      churnCycles: totals.churnCycles,
    };
    latencyWindow.reset();
    samples.push(sample);
    last = { ...totals, atMs };
    console.log(
      `t=${sample.t}s rss=${mib(sample.rssBytes)} MiB fds=${sample.fds} threads=${sample.threads} data=${mib(sample.dataBytes)} MiB ` +
        `pub=${sample.publishedPerSecond}/s con=${sample.consumedPerSecond}/s backlog=${sample.backlog} ` +
        `p50=${sample.p50Ms.toFixed(2)} p99=${sample.p99Ms.toFixed(2)} ms churn=${sample.churnCycles}`,
    );
  }

  clearInterval(churnTimer);
  clearInterval(reconnectTimer);
  await Promise.all(publishers);
  const drainDeadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (totals.consumed < totals.confirmed && Date.now() < drainDeadline) await sleep(100);
  for (const consumer of consumers) await consumer?.close();
  await broker.stop();
  await broker.destroy();

  const verdict = verdictOf(samples);
  const lost = totals.confirmed - totals.consumed;
  if (lost !== 0) verdict.ok = false;
  if (totals.nacked > 0 || totals.errors.length > 0) verdict.ok = false;
  const result = {
    machine: machine(),
    commit: commitOf(root),
    settings: {
      DURATION_S,
      SAMPLE_S,
      RATE,
      PUBLISHERS,
      CONSUMERS,
      QUEUES,
      SIZE,
      SHARDS,
    },
    totals: { ...totals, lost },
    verdict,
    samples,
  };
  const lines = [
    `# Soak: ${DURATION_S} s of mixed load`,
    '',
    `${machineLine(result.machine)}; Warren ${result.commit}`,
    '',
    `${RATE} msg/s from ${PUBLISHERS} publishers (confirms, half persistent) to ${QUEUES} durable queues, ${CONSUMERS} consumers (one reconnecting every ${CONSUMER_RECONNECT_EVERY_MS / 1000} s), a short-lived client every ${CHURN_EVERY_MS} ms.`,
    '',
    `Published ${totals.published}, confirmed ${totals.confirmed}, nacked ${totals.nacked}, consumed ${totals.consumed} (lost ${lost}, redelivered duplicates ${totals.duplicates}); ${totals.churnCycles} churn clients, ${totals.reconnects} consumer reconnects; errors: ${totals.errors.length === 0 ? 'none' : totals.errors.join('; ')}.`,
    '',
    soakChecksTable(verdict.checks),
    '',
    `Verdict: ${verdict.ok ? 'pass' : 'FAIL'}`,
  ];
  console.log(`\n${lines.join('\n')}`);
  if (flags.out !== undefined) {
    const prefix = flags.out.startsWith('/') ? flags.out : join(root, flags.out);
    writeFileSync(`${prefix}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(
      `${prefix}.md`,
      `${lines.join('\n')}\n\n![soak chart](${prefix.split('/').pop()}.svg)\n`,
    );
    writeFileSync(
      `${prefix}.svg`,
      renderTimeSeries({
        title: `Warren soak, ${DURATION_S} s (${machineLine(result.machine)})`,
        samples,
        series: [
          { key: 'rssBytes', label: 'broker RSS (MiB)', scale: 1 / 2 ** 20 },
          { key: 'fds', label: 'open file descriptors', scale: 1 },
          { key: 'dataBytes', label: 'data directory (MiB)', scale: 1 / 2 ** 20 },
          { key: 'p99Ms', label: 'end-to-end latency p99 (ms)', scale: 1 },
          { key: 'consumedPerSecond', label: 'consumed (msg/s)', scale: 1 },
        ],
      }),
    );
    console.log(`wrote ${prefix}.json, .md, .svg`);
  }
  process.exit(verdict.ok ? 0 : 1);
}

await main();
