// Property test: a shard's queue with TTL (x-message-ttl and expiration), x-max-length
// (drop-head), x-max-priority and a dead-letter exchange, driven by random publishes, gets (ack
// and no-ack), acks, nacks (requeue or not) and clock advances through its ring records and a
// fake clock, against a model queue. What gets return (message, redelivered flag, count left),
// the ready count, and every dead letter with its reason must agree. A second property runs the
// queue durable over a memory log, crashes it, and checks the recovered queue (order, priorities,
// redelivered flags, absolute expiry) against the model. fast-check prints the seed and the
// shrunk sequence on failure.

import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ByteWriter, encodeProperties } from '../codec/index.js';
import { MemoryStorage, SegmentedLog } from '../log/index.js';
import { allocateRing, RingOutbox, RingReader, type RingSink, RingWriter } from '../util/index.js';
import {
  CMD_CONTROL,
  CMD_PUBLISH,
  CMD_SETTLE,
  CONTROL_HEADER_BYTES,
  DEAD_LETTER_REASONS,
  deadLetterBlockStart,
  EVT_DEAD_LETTER,
  EVT_GET_OK,
  EVT_REPLY,
  getOkBlockStart,
  MessageBlockView,
  PUBLISH_FLAG_EXPIRATION,
  PUBLISH_FLAG_PERSISTENT,
  OutgoingPublish,
  publishRecordBytes,
  readDeadLetterReason,
  readGetOkDeliveryId,
  readGetOkIsRedelivered,
  readGetOkMessageCount,
  readReplyValue,
  SETTLE_ACK,
  SETTLE_DISCARD,
  SETTLE_REQUEUE,
  settleRecordBytes,
  writeControlHeader,
  writePublishRecord,
  writeSettleRecord,
  type ControlRequest,
  type QueueSpec,
} from './records.js';
import { MessageStore } from './message-store.js';
import { Shard } from './shard.js';

const QUEUE_ID = 7;
const CONNECTION_ID = 1;
const CHANNEL_ID = 1;

interface Config {
  messageTtlMs: number | null;
  maxLength: number | null;
  maxPriority: number | null;
}

type Operation =
  | { kind: 'publish'; priority: number | null; expirationMs: number | null }
  | { kind: 'get'; isNoAck: boolean }
  | { kind: 'ack'; pick: number }
  | { kind: 'nack'; pick: number; isRequeue: boolean }
  | { kind: 'advance'; ms: number };

const config: fc.Arbitrary<Config> = fc.record({
  messageTtlMs: fc.option(fc.integer({ min: 1, max: 50 })),
  maxLength: fc.option(fc.integer({ min: 0, max: 6 })),
  maxPriority: fc.option(fc.integer({ min: 1, max: 5 })),
});

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      priority: fc.option(fc.integer({ min: 0, max: 9 })),
      expirationMs: fc.option(fc.integer({ min: 1, max: 60 })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('get' as const), isNoAck: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('nack' as const),
      pick: fc.nat(),
      isRequeue: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 40 }),
    }),
  },
);

/** A message as the model holds it. */
interface ModelMessage {
  id: number;
  seq: number;
  priority: number;
  expiresAtMs: number;
  deliveryCount: number;
}

/** The queue as RabbitMQ's rules (as Warren applies them) say it should behave. */
class ModelQueue {
  ready: ModelMessage[] = [];
  readonly deadLetters: [number, string][] = [];
  private nextSeq = 1;

  constructor(private readonly config: Config) {}

  /** take(): highest priority first, then place (seq). */
  private headIndex(): number {
    let best = -1;
    for (let i = 0; i < this.ready.length; i++) {
      const message = this.ready[i]!;
      const current = best < 0 ? null : this.ready[best]!;
      if (
        current === null ||
        message.priority > current.priority ||
        (message.priority === current.priority && message.seq < current.seq)
      )
        best = i;
    }
    return best;
  }

  take(): ModelMessage | undefined {
    const index = this.headIndex();
    if (index < 0) return undefined;
    return this.ready.splice(index, 1)[0];
  }

  dropExpiredHead(nowMs: number): void {
    for (;;) {
      const index = this.headIndex();
      if (index < 0 || this.ready[index]!.expiresAtMs > nowMs) return;
      this.deadLetters.push([this.ready.splice(index, 1)[0]!.id, 'expired']);
    }
  }

  publish(id: number, priority: number | null, expirationMs: number | null, nowMs: number): void {
    let ttlMs = this.config.messageTtlMs ?? -1;
    if (expirationMs !== null && (ttlMs < 0 || expirationMs < ttlMs)) ttlMs = expirationMs;
    const maxPriority = this.config.maxPriority ?? 0;
    const message: ModelMessage = {
      id,
      seq: this.nextSeq++,
      priority: maxPriority === 0 ? 0 : Math.min(priority ?? 0, maxPriority),
      expiresAtMs: ttlMs < 0 ? Infinity : nowMs + ttlMs,
      deliveryCount: 0,
    };
    this.ready.push(message);
    const maxLength = this.config.maxLength ?? Infinity;
    while (this.ready.length > maxLength) this.deadLetters.push([this.take()!.id, 'maxlen']);
  }
}

class Harness implements RingSink {
  nowMs = 1_000_000;
  readonly shard: Shard;
  private readonly reader: RingReader;
  private readonly writer = new ByteWriter(256);
  private readonly view = new MessageBlockView();
  private nextRequestId = 1;
  /** Events seen since the last take. */
  gets: { deliveryId: number; isRedelivered: boolean; messageCount: number; id: number }[] = [];
  replies: number[] = [];
  deadLetters: [number, string][] = [];

  readonly store: MessageStore | null;
  /** Durable queue and persistent messages (else transient ones, paged through the store). */
  private readonly isDurable: boolean;

  /**
   * With a store, the queue is durable and every message persistent, unless `memoryBudgetBytes`
   * is given: then the queue and its messages are transient and their bodies page to the log.
   */
  constructor(
    config: Config,
    store: MessageStore | null = null,
    nowMs = 1_000_000,
    memoryBudgetBytes = Infinity,
  ) {
    this.nowMs = nowMs;
    this.store = store;
    this.isDurable = store !== null && memoryBudgetBytes === Infinity;
    const ring = allocateRing(1 << 20);
    this.reader = new RingReader(ring);
    const outbox = new RingOutbox(new RingWriter(ring), () => undefined);
    this.shard = new Shard(0, outbox, store, memoryBudgetBytes, () => this.nowMs);
    const args: Record<string, unknown> = {
      'x-dead-letter-exchange': 'dlx',
    };
    if (config.messageTtlMs !== null) args['x-message-ttl'] = config.messageTtlMs;
    if (config.maxLength !== null) args['x-max-length'] = config.maxLength;
    if (config.maxPriority !== null) args['x-max-priority'] = config.maxPriority;
    const queue: QueueSpec = {
      queueId: QUEUE_ID,
      vhost: '/',
      name: 'model',
      isDurable: this.isDurable,
      isAutoDelete: false,
      isExclusive: false,
      arguments: args,
    };
    this.control({ op: 'queue.create', queue });
    if (store !== null) this.control({ op: 'recovery.done' });
  }

  /** Waits until everything logged so far is durable (a crash after it keeps it all). */
  async sync(): Promise<void> {
    const log = this.store!.log;
    this.store!.flushRefs();
    log.flush();
    log.requestSync();
    const target = log.appendSeq;
    while (log.durableSeq < target) await new Promise((resolve) => setImmediate(resolve));
  }

  private run(type: number, payload: Buffer): void {
    this.shard.beginBatch();
    this.shard.onRecord(type, payload, 0, payload.length);
    this.shard.afterBatch();
    this.reader.poll(this, 1 << 20);
  }

  control(request: ControlRequest): void {
    const packed = pack(request);
    const payload = Buffer.allocUnsafe(CONTROL_HEADER_BYTES + packed.length);
    packed.copy(payload, writeControlHeader(payload, 0, this.nextRequestId++));
    this.run(CMD_CONTROL, payload);
  }

  publish(id: number, priority: number | null, expirationMs: number | null): void {
    this.writer.reset();
    encodeProperties(this.writer, {
      ...(priority === null ? {} : { priority }),
      ...(expirationMs === null ? {} : { expiration: String(expirationMs) }),
    });
    const properties = this.writer.take();
    const body = Buffer.from(String(id));
    const head = Buffer.from([0, 0]); // exchange '' and routing key ''
    const publish = new OutgoingPublish().setMessage(
      head,
      head.length,
      properties,
      properties.length,
      body,
      0,
      body.length,
    );
    publish.connectionId = CONNECTION_ID;
    publish.channelId = CHANNEL_ID;
    publish.flags =
      (expirationMs === null ? 0 : PUBLISH_FLAG_EXPIRATION) |
      (this.isDurable ? PUBLISH_FLAG_PERSISTENT : 0);
    const payload = Buffer.alloc(publishRecordBytes(publish, 1));
    writePublishRecord(payload, 0, publish, Uint32Array.of(QUEUE_ID), 1);
    this.run(CMD_PUBLISH, payload);
  }

  settle(action: number, deliveryId: number): void {
    const payload = Buffer.alloc(settleRecordBytes(1));
    writeSettleRecord(
      payload,
      0,
      CONNECTION_ID,
      CHANNEL_ID,
      action,
      Float64Array.of(deliveryId),
      1,
    );
    this.run(CMD_SETTLE, payload);
  }

  tick(): void {
    this.shard.runTimers();
    this.shard.afterBatch();
    this.reader.poll(this, 1 << 20);
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    if (type === EVT_GET_OK) {
      const view = this.view.read(bytes, getOkBlockStart(start), end);
      this.gets.push({
        deliveryId: readGetOkDeliveryId(bytes, start),
        isRedelivered: readGetOkIsRedelivered(bytes, start),
        messageCount: readGetOkMessageCount(bytes, start),
        id: Number(bytes.toString('utf8', view.bodyStart, view.bodyEnd)),
      });
    } else if (type === EVT_REPLY) {
      this.replies.push(readReplyValue(bytes, start));
    } else if (type === EVT_DEAD_LETTER) {
      const view = this.view.read(bytes, deadLetterBlockStart(bytes, start), end);
      this.deadLetters.push([
        Number(bytes.toString('utf8', view.bodyStart, view.bodyEnd)),
        DEAD_LETTER_REASONS[readDeadLetterReason(bytes, start)]!,
      ]);
    }
  }
}

/** An unacked delivery: the model's message and the shard's delivery id. */
interface UnackedDelivery {
  message: ModelMessage;
  deliveryId: number;
}

/** Runs operations on the harness and the model, checking after each that they agree. */
function runOperations(
  harness: Harness,
  model: ModelQueue,
  operations: readonly Operation[],
  unacked: UnackedDelivery[],
  firstId: number,
): void {
  let nextId = firstId;
  for (const step of operations) {
    switch (step.kind) {
      case 'publish': {
        const id = nextId++;
        model.publish(id, step.priority, step.expirationMs, harness.nowMs);
        harness.publish(id, step.priority, step.expirationMs);
        break;
      }
      case 'get':
        get(harness, model, step.isNoAck, unacked);
        break;
      case 'ack':
      case 'nack': {
        if (unacked.length === 0) break;
        const [delivery] = unacked.splice(step.pick % unacked.length, 1);
        const message = delivery!.message;
        if (step.kind === 'ack') {
          harness.settle(SETTLE_ACK, delivery!.deliveryId);
        } else if (step.isRequeue) {
          message.deliveryCount++;
          model.ready.push(message);
          harness.settle(SETTLE_REQUEUE, delivery!.deliveryId);
        } else {
          model.deadLetters.push([message.id, 'rejected']);
          harness.settle(SETTLE_DISCARD, delivery!.deliveryId);
        }
        break;
      }
      case 'advance':
        harness.nowMs += step.ms;
        model.dropExpiredHead(harness.nowMs);
        harness.tick();
        break;
    }
    expect(harness.deadLetters).toEqual(model.deadLetters);
  }
}

/** One basic.get on both; returns whether a message came. */
function get(
  harness: Harness,
  model: ModelQueue,
  isNoAck: boolean,
  unacked: UnackedDelivery[],
): boolean {
  model.dropExpiredHead(harness.nowMs);
  const expected = model.take();
  harness.gets = [];
  harness.replies = [];
  harness.control({
    op: 'get',
    queueId: QUEUE_ID,
    connectionId: CONNECTION_ID,
    channelId: CHANNEL_ID,
    isNoAck,
  });
  if (expected === undefined) {
    expect(harness.gets).toEqual([]);
    expect(harness.replies).toEqual([0]);
    return false;
  }
  expect(harness.gets).toHaveLength(1);
  const got = harness.gets[0]!;
  expect(got.id).toBe(expected.id);
  expect(got.isRedelivered).toBe(expected.deliveryCount > 0);
  expect(got.messageCount).toBe(model.ready.length);
  if (!isNoAck) unacked.push({ message: expected, deliveryId: got.deliveryId });
  return true;
}

const RUNS = Number(process.env['WARREN_FUZZ_RUNS'] ?? 300);

describe('a shard queue with TTL, max-length, priorities and a DLX against a model', () => {
  it('agrees with the model on every get, count and dead letter', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(config, fc.array(operation, { maxLength: 80 }), (queueConfig, operations) => {
        const harness = new Harness(queueConfig);
        const model = new ModelQueue(queueConfig);
        runOperations(harness, model, operations, [], 1);
        // The ready count as queue.declare-ok reports it (expired heads dropped first).
        model.dropExpiredHead(harness.nowMs);
        harness.replies = [];
        harness.control({ op: 'queue.stats', queueId: QUEUE_ID });
        expect(harness.replies).toEqual([model.ready.length]);
        expect(harness.deadLetters).toEqual(model.deadLetters);
      }),
      {
        numRuns: RUNS,
        examples: [
          // A requeue leaves the queue over x-max-length; a higher-priority publish is the head:
          // dropping it alone is not enough, the next head goes too.
          [
            { messageTtlMs: null, maxLength: 1, maxPriority: 1 },
            [
              { kind: 'publish', priority: null, expirationMs: null },
              { kind: 'get', isNoAck: false },
              { kind: 'publish', priority: null, expirationMs: null },
              { kind: 'nack', pick: 0, isRequeue: true },
              { kind: 'publish', priority: 1, expirationMs: null },
            ],
          ],
        ],
      },
    );
  });

  it('recovers the same queue from its log after a crash', async () => {
    expect.hasAssertions();
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(operation, { maxLength: 60 }),
        fc.integer({ min: 0, max: 80 }),
        async (queueConfig, operations, downMs) => {
          const storage = new MemoryStorage();
          const harness = new Harness(queueConfig, await openStore(storage));
          const model = new ModelQueue(queueConfig);
          const unacked: UnackedDelivery[] = [];
          runOperations(harness, model, operations, unacked, 1);
          await harness.sync();
          // Restart on what the crash left: unacked messages come back, redelivered.
          const restarted = new Harness(
            queueConfig,
            await openStore(storage.crashed()),
            harness.nowMs + downMs,
          );
          for (const delivery of unacked) {
            delivery.message.deliveryCount++;
            model.ready.push(delivery.message);
          }
          model.deadLetters.length = 0;
          while (get(restarted, model, true, []))
            expect(restarted.deadLetters).toEqual(model.deadLetters);
          expect(restarted.deadLetters).toEqual(model.deadLetters);
        },
      ),
      { numRuns: Math.ceil(RUNS / 10) },
    );
  });
});

describe('a transient shard queue paging every body to its log', () => {
  it('agrees with the model when bodies come back from the log', async () => {
    expect.hasAssertions();
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(operation, { maxLength: 60 }),
        async (queueConfig, operations) => {
          // A zero budget pages every queued body out once its write is durable.
          const harness = new Harness(
            queueConfig,
            await openStore(new MemoryStorage()),
            1_000_000,
            0,
          );
          const model = new ModelQueue(queueConfig);
          runOperations(harness, model, operations, [], 1);
          // Each sync makes the pages written so far durable; pages queued meanwhile follow.
          for (let round = 0; round < 5 && harness.shard.bodyBytesInMemory > 0; round++)
            await harness.sync();
          expect(harness.shard.bodyBytesInMemory).toBe(0);
          while (get(harness, model, true, []))
            expect(harness.deadLetters).toEqual(model.deadLetters);
          expect(harness.deadLetters).toEqual(model.deadLetters);
        },
      ),
      { numRuns: Math.ceil(RUNS / 10) },
    );
  });
});

async function openStore(storage: MemoryStorage): Promise<MessageStore> {
  let store: MessageStore | null = null;
  await SegmentedLog.open(storage, {}, (log) => (store = new MessageStore(log)));
  return store!;
}
