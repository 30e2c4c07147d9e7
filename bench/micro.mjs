#!/usr/bin/env node
// Micro-benchmarks of the hot paths, on the built package (dist/), one process:
//   - frames: FrameReader over a stream of basic.publish method + header + body frames, alone and
//     with the codec calls the channel makes for each publish, and the encoders of method
//     frames, content headers and basic.deliver;
//   - field tables: a RabbitMQ client-properties table and a message headers table, both ways;
//   - topic: TopicTrie matching with 10,000 bindings, many of them wildcards;
//   - ring: SPSC ring records per second from a producer worker thread to this thread;
//   - log: SegmentedLog appends with group commit (fsync batch) on FileStorage, on MemoryStorage
//     and on a storage that discards writes (the log's own CPU cost).
// The first three run under tinybench; ring and log are timed loops (see their sections).
//
//   npm run bench:micro -- [--quick] [--no-write] [--only frames,topic]
//
// Writes bench/results/micro.json and regenerates docs/benchmarks.md unless --no-write. About 50 s, --quick about 10 s.
// Imports log and net/topic-trie directly (STYLE.md lets bench import codec and util only): the
// point is to measure those internals alone.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { MICRO_COLUMNS, microCells, writeBenchmarksPage } from './benchmarks-page.mjs';
import {
  ByteWriter,
  CLASS_BASIC,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_METHOD,
  FrameReader,
  METHOD_BASIC_PUBLISH,
  Timestamp,
  copyBytes,
  decodeContentHeader,
  decodeFieldTable,
  encodeBasicDeliverFrame,
  encodeBodyFrames,
  encodeContentHeaderFrame,
  encodeContentHeaderFrameWithProperties,
  encodeFieldTable,
  encodeMethodFrame,
  encodeProperties,
  readDeliveryMode,
  validateProperties,
} from '../dist/codec/index.js';
import { allocateRing, RingReader } from '../dist/util/index.js';
import { FileStorage, MemoryStorage, SegmentedLog } from '../dist/log/index.js';
import { TopicTrie } from '../dist/net/topic-trie.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUITES = ['frames', 'field tables', 'topic', 'ring', 'log'];
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const selected = flags.only === undefined ? SUITES : flags.only.split(',');
for (const suite of selected) {
  if (!SUITES.includes(suite)) throw new Error(`unknown suite "${suite}"; suites: ${SUITES}`);
}
/** tinybench's time per task, its warm-up, and how long each timed loop runs. */
const TIMING = flags.quick
  ? { taskMs: 200, warmupMs: 50, loopMs: 500 }
  : { taskMs: 1500, warmupMs: 250, loopMs: 2000 };

/** One line of the results: `op` says what one operation is. */
const rows = [];

// ---------------------------------------------------------------- tinybench helpers

/**
 * A task that runs `body` (which does `operationsPerCall` operations) and reports the time per
 * operation. Single operations take tens of nanoseconds, too close to the clock's own cost, so
 * each sample is the mean of a batch; p99 is then the 99th percentile of those batch means.
 */
function perOperation(bench, operationsPerCall, body) {
  return () => {
    const startedMs = bench.now();
    body();
    const elapsedMs = bench.now() - startedMs;
    return {
      overriddenDuration: elapsedMs / operationsPerCall,
      overriddenIterationCost: elapsedMs,
    };
  };
}

function newBench(name) {
  return new Bench({
    name,
    time: TIMING.taskMs,
    warmupTime: TIMING.warmupMs,
    iterations: 16,
    warmupIterations: 8,
    throws: true,
  });
}

/** Runs a bench and adds a row per task; `describe` maps a task name to [op, notes]. */
async function runBench(bench, describe) {
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    const [op, notes] = describe[task.name] ?? ['call', ''];
    rows.push({
      suite: bench.name,
      task: task.name,
      op,
      opsPerSecond: 1000 / result.latency.mean,
      meanNs: result.latency.mean * 1e6,
      p99Ns: result.latency.p99 * 1e6,
      samples: result.latency.samplesCount,
      notes,
    });
  }
}

/** A small seeded generator (mulberry32), so every run builds the same inputs. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32;
  };
}

function pick(random, words) {
  return words[Math.floor(random() * words.length)];
}

// ---------------------------------------------------------------- frames

const PUBLISH_COUNT = 1000;
const PUBLISH_BODY_BYTES = 100;
const PUBLISH_PROPERTIES = {
  contentType: 'application/json',
  headers: { 'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736', 'x-attempt': 1 },
  deliveryMode: 2,
  messageId: 'order-2026-11-25-000123',
  timestamp: 1_795_000_000,
  appId: 'orders-service',
};

/** The bytes a publisher sends for `count` publishes: method, header and body frame each. */
function publishStream(count) {
  const writer = new ByteWriter(64 * 1024);
  const body = Buffer.alloc(PUBLISH_BODY_BYTES, 0x7b);
  for (let index = 0; index < count; index++) {
    encodeMethodFrame(writer, 1, {
      method: 'basic.publish',
      exchange: 'amq.topic',
      routingKey: `eu.orders.invoice.created.${index % 10}`,
      mandatory: false,
      immediate: false,
    });
    encodeContentHeaderFrameWithProperties(writer, 1, CLASS_BASIC, body.length, PUBLISH_PROPERTIES);
    encodeBodyFrames(writer, 1, body, 0, body.length, 131_072);
  }
  return Buffer.from(writer.take());
}

/** `stream` as consecutive views of `chunkBytes`, as socket reads deliver it. */
function chunksOf(stream, chunkBytes) {
  const chunks = [];
  for (let start = 0; start < stream.length; start += chunkBytes) {
    chunks.push(stream.subarray(start, Math.min(stream.length, start + chunkBytes)));
  }
  return chunks;
}

/** Counts frames only: the cost of the reader itself. */
class CountingSink {
  frames = 0;
  onFrame() {
    this.frames++;
  }
}

const PUBLISH_KEY = (CLASS_BASIC << 16) | METHOD_BASIC_PUBLISH;

/**
 * Does per frame what the channel (src/net/channel.ts: onMethodFrame and beginPublish,
 * onHeaderFrame, completePublish) does with a publish before routing it, with the same codec
 * calls: the method's names read in place and turned into strings only when they change, the
 * content header decoded and its properties validated and copied, the delivery mode read. The
 * channel itself needs a connection and shards, so its steps are repeated here; keep them in step.
 */
class PublishPathSink {
  head = Buffer.alloc(512);
  headBytes = 0;
  exchange = '';
  routingKey = '';
  properties = Buffer.alloc(4096);
  propertiesBytes = 0;
  persistentCount = 0;
  bodyBytes = 0;
  onFrame(type, _channel, buf, start, end) {
    if (type === FRAME_METHOD) {
      if (buf.readUInt32BE(start) === PUBLISH_KEY) this.beginPublish(buf, start + 4, end);
    } else if (type === FRAME_HEADER) {
      const header = decodeContentHeader(buf, start, end);
      validateProperties(buf, header.propertiesStart, end);
      this.propertiesBytes = copyBytes(buf, this.properties, 0, header.propertiesStart, end);
    } else if (type === FRAME_BODY) {
      this.bodyBytes += end - start;
      if (readDeliveryMode(this.properties, 0, this.propertiesBytes) === 2) this.persistentCount++;
    }
  }
  beginPublish(buf, start, end) {
    const exchangeStart = start + 3;
    const exchangeEnd = exchangeStart + buf[start + 2];
    const routingKeyStart = exchangeEnd + 1;
    const routingKeyEnd = routingKeyStart + buf[exchangeEnd];
    if (routingKeyEnd + 1 !== end) throw new Error('malformed basic.publish in the stream');
    if (this.isSameHead(buf, start + 2, routingKeyEnd)) return;
    this.headBytes = copyBytes(buf, this.head, 0, start + 2, routingKeyEnd);
    this.exchange = buf.toString('utf8', exchangeStart, exchangeEnd);
    this.routingKey = buf.toString('utf8', routingKeyStart, routingKeyEnd);
  }
  isSameHead(buf, start, end) {
    if (end - start !== this.headBytes) return false;
    for (let i = 0; i < this.headBytes; i++) if (buf[start + i] !== this.head[i]) return false;
    return true;
  }
}

async function benchFrames() {
  const bench = newBench('frames');
  const stream = publishStream(PUBLISH_COUNT);
  const reader = new FrameReader(131_072);
  const parseCases = [
    ['parse, 64 KiB reads', chunksOf(stream, 64 * 1024), new CountingSink()],
    ['parse, 1460 B reads', chunksOf(stream, 1460), new CountingSink()],
    ["parse + the channel's publish decoding", chunksOf(stream, 64 * 1024), new PublishPathSink()],
  ];
  for (const [name, chunks, sink] of parseCases) {
    bench.add(
      name,
      perOperation(bench, PUBLISH_COUNT, () => {
        for (const chunk of chunks) reader.push(chunk, sink);
      }),
    );
  }
  const describe = {};
  const streamNote = `${PUBLISH_COUNT} publishes of ${PUBLISH_BODY_BYTES} B, ${stream.length} B of frames`;
  describe['parse, 64 KiB reads'] = ['publish (3 frames)', streamNote];
  describe['parse, 1460 B reads'] = ['publish (3 frames)', 'MTU-sized reads: many split frames'];
  describe["parse + the channel's publish decoding"] = [
    'publish (3 frames)',
    'names read in place, decodeContentHeader, validateProperties, copyBytes, readDeliveryMode',
  ];

  // Encoders write into one reused writer; reset() drops the bytes after each batch.
  const writer = new ByteWriter(1024 * 1024);
  const batch = 256;
  const publish = {
    method: 'basic.publish',
    exchange: 'amq.topic',
    routingKey: 'eu.orders.invoice.created',
    mandatory: false,
    immediate: false,
  };
  const deliver = {
    method: 'basic.deliver',
    consumerTag: 'amq.ctag-3nG2Qe5sWm7hVbJk1yX9_A',
    deliveryTag: 123_456,
    redelivered: false,
    exchange: 'amq.topic',
    routingKey: 'eu.orders.invoice.created',
  };
  const propertiesWriter = new ByteWriter(1024);
  encodeProperties(propertiesWriter, PUBLISH_PROPERTIES);
  const rawProperties = Buffer.from(propertiesWriter.take());
  const body = Buffer.alloc(1024, 0x7b);
  const encodeCases = {
    'encode basic.publish (generated codec)': () => encodeMethodFrame(writer, 1, publish),
    'encode basic.deliver (generated codec)': () => encodeMethodFrame(writer, 1, deliver),
    'encode basic.deliver (hand-written)': () =>
      encodeBasicDeliverFrame(writer, 1, deliver.consumerTag, 123_456, false, 'amq.topic', 'k.e'),
    'encode content header from properties': () =>
      encodeContentHeaderFrameWithProperties(writer, 1, CLASS_BASIC, 100, PUBLISH_PROPERTIES),
    'encode content header from raw bytes': () =>
      encodeContentHeaderFrame(writer, 1, CLASS_BASIC, 100, rawProperties, 0, rawProperties.length),
    'encode delivery: deliver + header + 1 KiB body': () => {
      encodeBasicDeliverFrame(
        writer,
        1,
        deliver.consumerTag,
        123_456,
        false,
        'amq.topic',
        'eu.orders.invoice.created',
      );
      encodeContentHeaderFrame(
        writer,
        1,
        CLASS_BASIC,
        1024,
        rawProperties,
        0,
        rawProperties.length,
      );
      encodeBodyFrames(writer, 1, body, 0, body.length, 131_072);
    },
  };
  for (const [name, encode] of Object.entries(encodeCases)) {
    bench.add(
      name,
      perOperation(bench, batch, () => {
        for (let index = 0; index < batch; index++) encode();
        writer.reset();
      }),
    );
    describe[name] = ['frame', ''];
  }
  describe['encode content header from properties'][1] =
    `${rawProperties.length} B of properties with a 2-key headers table`;
  describe['encode content header from raw bytes'][1] = 'the forwarding path: properties as sent';
  describe['encode delivery: deliver + header + 1 KiB body'] = ['delivery (3 frames)', ''];
  await runBench(bench, describe);
}

// ---------------------------------------------------------------- field tables

/** What RabbitMQ's Java client sends as client-properties in connection.start-ok. */
const CLIENT_PROPERTIES = {
  product: 'RabbitMQ',
  version: '5.21.0',
  platform: 'Java',
  copyright: 'Copyright (c) 2007-2024 Broadcom Inc. and/or its subsidiaries.',
  information: 'Licensed under the MPL. See https://www.rabbitmq.com/',
  capabilities: {
    publisher_confirms: true,
    exchange_exchange_bindings: true,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    authentication_failure_close: true,
  },
  connection_name: 'orders-service@ip-10-0-3-17',
};

/** Message headers as applications and RabbitMQ's dead-lettering write them. */
const MESSAGE_HEADERS = {
  'x-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736',
  'x-tenant': 'acme',
  'x-attempt': 3,
  'x-priority-class': 'gold',
  'x-sent-at': new Timestamp(1_795_000_000),
  'x-death': [
    {
      count: 2,
      reason: 'rejected',
      queue: 'orders.invoice',
      time: new Timestamp(1_794_999_990),
      exchange: 'amq.topic',
      'routing-keys': ['eu.orders.invoice.created'],
    },
  ],
};

async function benchFieldTables() {
  const bench = newBench('field tables');
  const writer = new ByteWriter(64 * 1024);
  const batch = 64;
  const describe = {};
  for (const [label, table] of [
    ['client-properties', CLIENT_PROPERTIES],
    ['message headers', MESSAGE_HEADERS],
  ]) {
    const encoded = encodeFieldTable(table);
    const note = `${encoded.length} B`;
    bench.add(
      `encode ${label}`,
      perOperation(bench, batch, () => {
        for (let index = 0; index < batch; index++) writer.table(table);
        writer.reset();
      }),
    );
    bench.add(
      `decode ${label}`,
      perOperation(bench, batch, () => {
        for (let index = 0; index < batch; index++) decodeFieldTable(encoded);
      }),
    );
    describe[`encode ${label}`] = ['table', note];
    describe[`decode ${label}`] = ['table', note];
  }
  await runBench(bench, describe);
}

// ---------------------------------------------------------------- topic

const TOPIC_BINDINGS = 10_000;
const TOPIC_KEYS = 1024;
const REGIONS = ['eu', 'us', 'ap', 'sa', 'af', 'me', 'ca', 'au'];
const SERVICES = [
  'orders',
  'payments',
  'billing',
  'shipping',
  'inventory',
  'users',
  'auth',
  'search',
  'catalog',
  'reviews',
  'cart',
  'pricing',
  'fraud',
  'email',
  'sms',
  'ledger',
  'tax',
  'returns',
  'loyalty',
  'media',
];
const ENTITIES = [
  'invoice',
  'order',
  'customer',
  'account',
  'item',
  'parcel',
  'refund',
  'session',
  'token',
  'coupon',
  'address',
  'card',
  'review',
  'image',
  'report',
  'batch',
  'job',
  'alert',
  'device',
  'plan',
];
const EVENTS = [
  'created',
  'updated',
  'deleted',
  'failed',
  'retried',
  'completed',
  'cancelled',
  'shipped',
  'refunded',
  'viewed',
  'archived',
  'restored',
];

function routingKeyOf(random) {
  return [
    pick(random, REGIONS),
    pick(random, SERVICES),
    pick(random, ENTITIES),
    pick(random, EVENTS),
  ];
}

/**
 * A binding pattern: 55 % exact keys, 20 % one `*`, 10 % two `*`, 10 % a trailing `#` after two
 * or three words, 5 % a leading or inner `#`: the mix of a busy event bus, where each key
 * matches a handful of bindings.
 */
function patternOf(random) {
  const words = routingKeyOf(random);
  const roll = random();
  if (roll < 0.55) return words.join('.');
  if (roll < 0.75) {
    words[Math.floor(random() * 4)] = '*';
    return words.join('.');
  }
  if (roll < 0.85) {
    words[Math.floor(random() * 4)] = '*';
    words[Math.floor(random() * 4)] = '*';
    return words.join('.');
  }
  if (roll < 0.95) return [...words.slice(0, 2 + Math.floor(random() * 2)), '#'].join('.');
  return random() < 0.5 ? `#.${words[2]}.${words[3]}` : `${words[0]}.#.${words[3]}`;
}

async function benchTopic() {
  const bench = newBench('topic');
  const random = seededRandom(4);
  const trie = new TopicTrie();
  for (let binding = 0; binding < TOPIC_BINDINGS; binding++) trie.add(patternOf(random), binding);
  const keys = [];
  for (let index = 0; index < TOPIC_KEYS; index++) keys.push(routingKeyOf(random).join('.'));
  const collector = {
    matches: 0,
    add() {
      this.matches++;
    },
  };
  for (const key of keys) trie.match(key, collector);
  const matchesPerKey = collector.matches / TOPIC_KEYS;
  bench.add(
    'match 4-word keys, 10,000 bindings',
    perOperation(bench, TOPIC_KEYS, () => {
      for (const key of keys) trie.match(key, collector);
    }),
  );
  const buildRandom = seededRandom(5);
  const patterns = [];
  for (let binding = 0; binding < TOPIC_BINDINGS; binding++) patterns.push(patternOf(buildRandom));
  bench.add(
    'add 10,000 bindings to an empty trie',
    perOperation(bench, TOPIC_BINDINGS, () => {
      const fresh = new TopicTrie();
      for (let binding = 0; binding < TOPIC_BINDINGS; binding++)
        fresh.add(patterns[binding], binding);
    }),
  );
  await runBench(bench, {
    'match 4-word keys, 10,000 bindings': [
      'routing key',
      `${TOPIC_KEYS} keys, ${matchesPerKey.toFixed(1)} matches per key; 45 % of bindings wildcards`,
    ],
    'add 10,000 bindings to an empty trie': ['binding', ''],
  });
}

// ---------------------------------------------------------------- ring

const RING_BYTES = 8 * 1024 * 1024;
const RING_POLL_RECORDS_MAX = 4096;

/**
 * A timed loop, not tinybench: the producer is a worker thread writing flat out and tinybench
 * could only time this thread's side of it. This thread consumes (checking the sequence
 * numbers) for `durationMs` from the first record, then raises the stop word and drains; the
 * rate is records consumed over that time.
 */
async function runRing(payloadBytes, isCopyingPayload, durationMs) {
  const shared = allocateRing(RING_BYTES);
  const stopShared = new SharedArrayBuffer(4);
  const stop = new Int32Array(stopShared);
  const reader = new RingReader(shared);
  const worker = new Worker(new URL('./micro-ring-producer.mjs', import.meta.url), {
    workerData: { shared, stopShared, payloadBytes, isCopyingPayload },
  });
  const report = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`ring producer exited with ${code}`)));
  });
  let producerReport = null;
  void report.then((message) => (producerReport = message));
  const sink = {
    expected: 0,
    outOfOrder: 0,
    onRecord(_type, bytes, start) {
      if (bytes.readUInt32LE(start) !== this.expected >>> 0) this.outOfOrder++;
      this.expected++;
    },
  };
  let startedMs = -1;
  let recordsAtStart = 0;
  let stoppedMs = -1;
  let recordsAtStop = 0;
  let emptyWaits = 0;
  while (true) {
    const delivered = reader.poll(sink, RING_POLL_RECORDS_MAX);
    const nowMs = performance.now();
    if (startedMs < 0 && delivered > 0) {
      startedMs = nowMs;
      recordsAtStart = sink.expected;
    } else if (stoppedMs < 0 && startedMs >= 0 && nowMs - startedMs >= durationMs) {
      stoppedMs = nowMs;
      recordsAtStop = sink.expected;
      Atomics.store(stop, 0, 1);
    }
    if (delivered > 0) continue;
    if (producerReport !== null && !reader.hasRecords()) break;
    emptyWaits++;
    await (stoppedMs < 0
      ? reader.waitForRecords()
      : Promise.race([reader.waitForRecords(), report]));
  }
  await worker.terminate();
  if (sink.outOfOrder !== 0 || sink.expected !== producerReport.recordsWritten) {
    throw new Error(
      `ring: ${sink.outOfOrder} records out of order, ${sink.expected} read of ` +
        `${producerReport.recordsWritten} written`,
    );
  }
  const elapsedMs = stoppedMs - startedMs;
  const records = recordsAtStop - recordsAtStart;
  return { records, elapsedMs, emptyWaits, fullWaits: producerReport.fullWaits };
}

async function benchRing() {
  const cases = [
    [16, false, '16 B records, ring only (payload not copied)'],
    [16, true, '16 B records'],
    [128, true, '128 B records'],
  ];
  for (const [payloadBytes, isCopyingPayload, task] of cases) {
    const { records, elapsedMs, emptyWaits, fullWaits } = await runRing(
      payloadBytes,
      isCopyingPayload,
      TIMING.loopMs,
    );
    const recordsPerSecond = (records / elapsedMs) * 1000;
    const megabytesPerSecond = (recordsPerSecond * payloadBytes) / 1e6;
    rows.push({
      suite: 'ring',
      task: `${task}, worker -> main thread`,
      op: 'record',
      opsPerSecond: recordsPerSecond,
      meanNs: 1e9 / recordsPerSecond,
      p99Ns: null,
      samples: records,
      notes:
        `timed loop ${(elapsedMs / 1000).toFixed(1)} s; ${megabytesPerSecond.toFixed(0)} MB/s of ` +
        `payload; reader slept ${emptyWaits}×, writer found it full ${fullWaits}×`,
      megabytesPerSecond,
    });
  }
}

// ---------------------------------------------------------------- log

/** Records one burst appends before asking for a sync, as a shard does per batch of commands. */
const LOG_BURST_RECORDS = 64;
/** Records appended and not yet durable before the writer waits, like a confirm window. */
const LOG_WINDOW_RECORDS = 16_384;

/**
 * A timed loop, not tinybench: group commit only shows with appends arriving while a sync runs.
 * Each event-loop turn appends a burst, calls requestSync() and flush() (starting a cycle unless
 * one runs), then yields; past the window it waits for onDurable. The rate is durable records.
 */
async function runLog(storage, payloadBytes, durationMs) {
  const { log } = await SegmentedLog.open(storage, { fsyncMode: 'batch' }, { onRecord() {} });
  const payload = Buffer.alloc(payloadBytes, 0x61);
  let wakeWriter = null;
  log.onDurable = () => {
    if (wakeWriter === null) return;
    const wake = wakeWriter;
    wakeWriter = null;
    wake();
  };
  const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  let windowWaits = 0;
  while (performance.now() - startedMs < durationMs) {
    if (log.appendSeq - log.durableSeq >= LOG_WINDOW_RECORDS) {
      windowWaits++;
      await new Promise((resolve) => (wakeWriter = resolve));
      continue;
    }
    for (let index = 0; index < LOG_BURST_RECORDS; index++) {
      const at = log.beginAppend(payloadBytes);
      payload.copy(log.batch, at);
      log.endAppend(1, payloadBytes);
    }
    log.requestSync();
    log.flush();
    await yieldTurn();
  }
  while (log.durableSeq < log.appendSeq) await new Promise((resolve) => (wakeWriter = resolve));
  const elapsedMs = performance.now() - startedMs;
  const cpu = process.cpuUsage(cpuBefore);
  const result = {
    records: log.durableSeq,
    elapsedMs,
    syncCycles: log.syncCycles,
    syncMsMean: log.syncMsTotal / Math.max(1, log.syncCycles),
    bytesWritten: log.bytesWritten,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    windowWaits,
  };
  await log.close();
  return result;
}

/**
 * Storage that keeps nothing: writes and syncs complete at once, so what remains is the log's
 * own CPU cost. (MemoryStorage is a test double that re-concatenates the whole segment on every
 * write, so its cost grows with the segment and says little about the log.)
 */
class DiscardStorage {
  list() {
    return [];
  }
  open(segment) {
    return new DiscardSegment(segment);
  }
  async remove() {}
  async syncDirectory() {}
}

class DiscardSegment {
  constructor(segment) {
    this.segment = segment;
    this.sizeBytes = 0;
  }
  async write(chunks, position) {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    this.sizeBytes = Math.max(this.sizeBytes, position + bytes);
  }
  async sync() {}
  readSync() {
    return 0;
  }
  async truncate(sizeBytes) {
    this.sizeBytes = sizeBytes;
  }
  close() {}
}

const LOG_STORAGES = {
  FileStorage: (directory) => new FileStorage(directory),
  MemoryStorage: () => new MemoryStorage(),
  'discarding storage': () => new DiscardStorage(),
};

async function benchLog() {
  const directory = mkdtempSync(join(tmpdir(), 'warren-micro-log-'));
  try {
    for (const payloadBytes of [100, 1024]) {
      for (const [kind, create] of Object.entries(LOG_STORAGES)) {
        const storage = create(join(directory, `${payloadBytes}`));
        const result = await runLog(storage, payloadBytes, TIMING.loopMs);
        const recordsPerSecond = (result.records / result.elapsedMs) * 1000;
        const syncsPerSecond = (result.syncCycles / result.elapsedMs) * 1000;
        rows.push({
          suite: 'log',
          task: `append ${payloadBytes} B, fsync batch, ${kind}`,
          op: 'durable record',
          opsPerSecond: recordsPerSecond,
          meanNs: 1e9 / recordsPerSecond,
          p99Ns: null,
          samples: result.records,
          notes:
            `timed loop ${(result.elapsedMs / 1000).toFixed(1)} s; ${result.syncCycles} sync cycles ` +
            `(${syncsPerSecond.toFixed(0)}/s, ${(result.records / result.syncCycles).toFixed(0)} ` +
            `records each, ${result.syncMsMean.toFixed(2)} ms mean); ` +
            `${(((result.bytesWritten / result.elapsedMs) * 1000) / 1e6).toFixed(0)} MB/s; ` +
            `process CPU ${result.cpuPercent.toFixed(0)} %`,
          syncCycles: result.syncCycles,
          syncMsMean: result.syncMsMean,
          cpuPercent: result.cpuPercent,
        });
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- output

function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    // The machine may be shared: the load before this run says how quiet it was.
    loadAverage1m: loadAverageAtStart,
    date: new Date().toISOString(),
  };
}

function textTable() {
  const lines = [MICRO_COLUMNS, ...rows.map(microCells)];
  const widths = MICRO_COLUMNS.map((_, column) =>
    Math.max(...lines.map((cells) => cells[column].length)),
  );
  const numeric = (column) => column >= 3;
  return lines
    .map((cells) =>
      cells
        .map((cell, column) =>
          numeric(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const runners = {
  frames: benchFrames,
  'field tables': benchFieldTables,
  topic: benchTopic,
  ring: benchRing,
  log: benchLog,
};
const loadAverageAtStart = Number(loadavg()[0].toFixed(2));
const startedMs = performance.now();
for (const suite of selected) await runners[suite]();
const info = machine();
console.log(textTable());
console.log(`\n${rows.length} results in ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
for (const row of rows) {
  if (row.notes !== '') console.log(`  ${row.suite} / ${row.task}: ${row.notes}`);
}
if (!flags['no-write']) {
  const directory = join(root, 'bench/results');
  mkdirSync(directory, { recursive: true });
  const report = { machine: info, quick: flags.quick, timing: TIMING, results: rows };
  writeFileSync(join(directory, 'micro.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('wrote bench/results/micro.json');
  writeBenchmarksPage();
}
