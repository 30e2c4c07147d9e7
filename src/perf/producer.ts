// One producer of warren-perf: a channel on a client-thread connection that publishes pre-encoded
// messages (method, header and body frames built once per target) with the send time patched
// into the body's first 8 bytes, limited by its token bucket (--rate), its confirm window
// (--confirm) and the socket's backpressure. Client thread. Invariant: the sequence numbers in
// flight (lowest unsettled to last published) never span more than the confirm window, so the
// send-time ring indexed by sequence number never overwrites an unsettled slot.

import {
  ByteWriter,
  CLASS_BASIC,
  encodeBodyFrames,
  encodeContentHeaderFrameWithProperties,
  encodeMethodFrame,
  FRAME_HEADER_BYTES,
  type BasicProperties,
} from '../codec/index.js';
import { assert } from '../util/index.js';
import type { AmqpConnection, ChannelHandler } from './amqp-connection.js';
import { BrokerError } from './errors.js';
import { recordLatency, sharedClockMs, type Histogram } from './latency.js';
import type { PerfOptions } from './options.js';
import { ROUTING_HEADER, type TargetPlan } from './plan.js';
import { TokenBucket } from './token-bucket.js';

/** What {@link Producer.publishBatch} says about the next turn. Positive values are waits in ms. */
export const PUBLISH_READY = 0;
/** Waiting for confirms or for the socket to drain; a confirm or drain schedules the pump. */
export const PUBLISH_BLOCKED = -1;
/** Stopped, or sent every message it had to. */
export const PUBLISH_DONE = -2;

/** Most messages one producer writes per event-loop turn, so reads interleave with writes. */
const BATCH_MESSAGES_MAX = 256;
/** Most bytes waiting in a connection's writer before the pump flushes and yields. */
const BATCH_BYTES_MAX = 256 * 1024;

/** Wakes the client thread's publish pump. */
export interface PumpScheduler {
  schedule(): void;
}

const scratch = new DataView(new ArrayBuffer(8));

export class Producer implements ChannelHandler {
  sentCount: number;
  confirmedCount: number;
  nackedCount: number;
  /** Queue copies of what was sent: the deliveries consumers should see. */
  routedCount: number;
  /** Published, neither confirmed nor nacked yet. */
  outstandingCount: number;
  /** Shared-clock time of the last publish or confirm. */
  lastActivityMs: number;

  private readonly connection: AmqpConnection;
  private readonly writer: ByteWriter;
  private readonly pump: PumpScheduler;
  private readonly confirmLatency: Histogram;
  /** Per target: method, header and body frames of one message, send time zeroed. */
  private readonly templates: Buffer[];
  /** Per target: where in its template the send time goes. */
  private readonly sendTimeOffsets: Int32Array;
  private readonly queueCopies: Int32Array;
  private targetIndex: number;
  private readonly bucket: TokenBucket | null;
  private readonly messagesMax: number;
  private readonly confirmWindow: number;
  private readonly confirmMask: number;
  private readonly sendTimesMs: Float64Array;
  private readonly isSettled: Uint8Array;
  private nextSequence: number;
  private lowestUnsettled: number;
  private isStopped: boolean;

  /** Builds the message templates; `connection` must be open (frame_max is known). */
  constructor(
    connection: AmqpConnection,
    channel: number,
    targets: TargetPlan[],
    options: PerfOptions,
    pump: PumpScheduler,
    confirmLatency: Histogram,
    nowMs: number,
  ) {
    assert(targets.length > 0, 'a producer needs a target');
    this.sentCount = 0;
    this.confirmedCount = 0;
    this.nackedCount = 0;
    this.routedCount = 0;
    this.outstandingCount = 0;
    this.lastActivityMs = 0;
    this.connection = connection;
    this.writer = connection.writer;
    this.pump = pump;
    this.confirmLatency = confirmLatency;
    this.templates = [];
    this.sendTimeOffsets = new Int32Array(targets.length);
    this.queueCopies = new Int32Array(targets.length);
    const body = Buffer.alloc(options.messageBytes);
    targets.forEach((target, index) => {
      const writer = new ByteWriter(options.messageBytes + 1024);
      encodeMethodFrame(writer, channel, {
        method: 'basic.publish',
        exchange: target.exchange,
        routingKey: target.routingKey,
        mandatory: false,
        immediate: false,
      });
      const properties: BasicProperties = { deliveryMode: options.isPersistent ? 2 : 1 };
      if (target.headerValue !== null)
        properties.headers = { [ROUTING_HEADER]: target.headerValue };
      encodeContentHeaderFrameWithProperties(
        writer,
        channel,
        CLASS_BASIC,
        options.messageBytes,
        properties,
      );
      this.sendTimeOffsets[index] = writer.position + FRAME_HEADER_BYTES;
      encodeBodyFrames(writer, channel, body, 0, body.length, connection.frameMaxBytes);
      this.templates.push(Buffer.from(writer.take()));
      this.queueCopies[index] = target.queueCopies;
    });
    this.targetIndex = 0;
    this.bucket = options.ratePerSecond > 0 ? new TokenBucket(options.ratePerSecond, nowMs) : null;
    this.messagesMax = options.messagesPerProducer;
    this.confirmWindow = options.confirmWindow;
    let ringSize = 1;
    while (ringSize < options.confirmWindow) ringSize *= 2;
    this.confirmMask = ringSize - 1;
    this.sendTimesMs = new Float64Array(options.confirmWindow > 0 ? ringSize : 0);
    this.isSettled = new Uint8Array(options.confirmWindow > 0 ? ringSize : 0);
    this.nextSequence = 1;
    this.lowestUnsettled = 1;
    this.isStopped = false;
  }

  get isDone(): boolean {
    return this.isStopped || (this.messagesMax > 0 && this.sentCount >= this.messagesMax);
  }

  /** Publishing begins: the rate limit counts from now, not from when the channel opened. */
  start(nowMs: number): void {
    this.bucket?.reset(nowMs);
  }

  /** Publishes no more, from now on. */
  stop(): void {
    this.isStopped = true;
  }

  /**
   * Writes as many messages as the limits allow this turn, into the connection's writer (the
   * pump flushes). Returns PUBLISH_READY, PUBLISH_BLOCKED, PUBLISH_DONE, or the ms to wait for
   * a token. Hot path.
   */
  publishBatch(nowMs: number): number {
    if (this.isDone) return PUBLISH_DONE;
    if (this.connection.isBackpressured) return PUBLISH_BLOCKED;
    let budget = BATCH_MESSAGES_MAX;
    if (this.confirmWindow > 0) {
      const free = this.confirmWindow - (this.nextSequence - this.lowestUnsettled);
      if (free <= 0) return PUBLISH_BLOCKED;
      if (free < budget) budget = free;
    }
    const bucket = this.bucket;
    if (bucket !== null) {
      bucket.refill(nowMs);
      const tokens = bucket.availableTokens;
      if (tokens === 0) return bucket.msUntilNextToken;
      if (tokens < budget) budget = tokens;
    }
    if (this.messagesMax > 0 && this.messagesMax - this.sentCount < budget) {
      budget = this.messagesMax - this.sentCount;
    }
    const writer = this.writer;
    let published = 0;
    while (published < budget && writer.position < BATCH_BYTES_MAX) {
      this.publishOne(writer);
      published++;
    }
    if (bucket !== null) bucket.take(published);
    return this.isDone ? PUBLISH_DONE : PUBLISH_READY;
  }

  private publishOne(writer: ByteWriter): void {
    const index = this.targetIndex;
    this.targetIndex = index + 1 === this.templates.length ? 0 : index + 1;
    const template = this.templates[index]!;
    const sendTimeMs = sharedClockMs();
    writer.bytes(template);
    const at = writer.position - template.length + this.sendTimeOffsets[index]!;
    scratch.setFloat64(0, sendTimeMs);
    writer.patchU32(at, scratch.getUint32(0));
    writer.patchU32(at + 4, scratch.getUint32(4));
    if (this.confirmWindow > 0) {
      const slot = this.nextSequence & this.confirmMask;
      this.sendTimesMs[slot] = sendTimeMs;
      this.isSettled[slot] = 0;
      this.nextSequence++;
      this.outstandingCount++;
    }
    this.sentCount++;
    this.routedCount += this.queueCopies[index]!;
    this.lastActivityMs = sendTimeMs;
  }

  /** A publisher confirm: settles one sequence number, or all up to it. Hot path. */
  onConfirm(deliveryTag: number, isMultiple: boolean, isNack: boolean): void {
    if (this.confirmWindow === 0 || deliveryTag < 1 || deliveryTag >= this.nextSequence) {
      throw new BrokerError(
        'protocol-violation',
        `the broker confirmed sequence number ${deliveryTag}, which was never published`,
      );
    }
    const nowMs = sharedClockMs();
    this.lastActivityMs = nowMs;
    if (isMultiple) {
      for (let sequence = this.lowestUnsettled; sequence <= deliveryTag; sequence++) {
        this.settle(sequence, isNack, nowMs);
      }
      if (deliveryTag >= this.lowestUnsettled) this.lowestUnsettled = deliveryTag + 1;
    } else if (deliveryTag >= this.lowestUnsettled) {
      this.settle(deliveryTag, isNack, nowMs);
    }
    const mask = this.confirmMask;
    while (
      this.lowestUnsettled < this.nextSequence &&
      this.isSettled[this.lowestUnsettled & mask] === 1
    ) {
      this.lowestUnsettled++;
    }
    this.pump.schedule();
  }

  private settle(sequence: number, isNack: boolean, nowMs: number): void {
    const slot = sequence & this.confirmMask;
    if (this.isSettled[slot] === 1) return;
    this.isSettled[slot] = 1;
    this.outstandingCount--;
    if (isNack) {
      this.nackedCount++;
      return;
    }
    this.confirmedCount++;
    recordLatency(this.confirmLatency, this.sendTimesMs[slot]!, nowMs);
  }

  onDelivery(): void {
    throw new BrokerError(
      'protocol-violation',
      'the broker delivered a message to a producer channel',
    );
  }
}
