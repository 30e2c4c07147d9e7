// The shard's pieces wired as Shard wires them, in memory (no log), over a real event ring whose
// records are decoded with the records.ts readers: for unit tests of one piece at a time.

import { ActiveQueues } from '../../src/shard/active-queues.js';
import { BatchClock } from '../../src/shard/batch-clock.js';
import { ChannelCredit } from '../../src/shard/channel-credit.js';
import { ConsumerDispatch } from '../../src/shard/consumer-dispatch.js';
import { ControlRequests } from '../../src/shard/control-requests.js';
import { DurableReplies } from '../../src/shard/durable-replies.js';
import { MessageMemory } from '../../src/shard/message-memory.js';
import { Queue, type ShardChannel } from '../../src/shard/queue.js';
import { QueueRules } from '../../src/shard/queue-rules.js';
import { QueueTimers } from '../../src/shard/queue-timers.js';
import {
  deadLetterBlockStart,
  deliverBlockStart,
  EVT_CONFIRM,
  EVT_CREDIT,
  EVT_DEAD_LETTER,
  EVT_DELIVER,
  EVT_GET_OK,
  EVT_REJECT,
  EVT_REPLY,
  getOkBlockStart,
  MessageBlockView,
  messageBlockBytes,
  readChannelId,
  readConfirmSeq,
  readConnectionId,
  readCreditAmount,
  readDeadLetterReason,
  readDeliverConsumerId,
  readDeliverDeliveryId,
  readDeliverFlags,
  readGetOkDeliveryId,
  readGetOkIsRedelivered,
  readGetOkMessageCount,
  readReplyCode,
  readReplyRequestId,
  readReplyText,
  readReplyValue,
} from '../../src/shard/records.js';
import { ShardEvents } from '../../src/shard/shard-events.js';
import { StoredMessage } from '../../src/shard/stored-message.js';
import {
  allocateRing,
  RingOutbox,
  RingReader,
  type RingSink,
  RingWriter,
} from '../../src/util/index.js';

/** An event the shard sent, decoded; `body` is the message block's body as text. */
export type ShardEvent =
  | { type: 'deliver'; consumerId: number; deliveryId: number; flags: number; body: string }
  | {
      type: 'get-ok';
      deliveryId: number;
      isRedelivered: boolean;
      messageCount: number;
      body: string;
    }
  | { type: 'reply'; requestId: number; code: number; value: number; text: string }
  | { type: 'credit'; connectionId: number; channelId: number; amount: number }
  | { type: 'confirm' | 'reject'; connectionId: number; channelId: number; seq: number }
  | { type: 'dead-letter'; reason: number; body: string };

/** A message block with an empty exchange, routing key and property list. */
export function messageOf(body: string): StoredMessage {
  const bodyBytes = Buffer.from(body);
  const block = Buffer.alloc(messageBlockBytes(0, 0, 0, bodyBytes.length));
  bodyBytes.copy(block, block.length - bodyBytes.length);
  return new StoredMessage(block);
}

export class ShardParts implements RingSink {
  readonly clock: BatchClock;
  readonly events: ShardEvents;
  readonly queues = new Map<number, Queue>();
  readonly channels = new Map<number, ShardChannel>();
  readonly pausedConnections = new Set<number>();
  readonly active = new ActiveQueues();
  readonly timers = new QueueTimers(this.active);
  readonly memory = new MessageMemory(null, Infinity, this.queues, this.channels);
  readonly rules: QueueRules;
  readonly credit: ChannelCredit;
  readonly dispatch: ConsumerDispatch;
  readonly replies: DurableReplies;
  readonly control: ControlRequests;
  /** Events sent so far (take() empties it). */
  private sent: ShardEvent[] = [];
  private readonly reader: RingReader;
  private readonly view = new MessageBlockView();
  nowMs = 1_000_000;

  constructor() {
    const ring = allocateRing(1 << 20);
    this.reader = new RingReader(ring);
    this.events = new ShardEvents(new RingOutbox(new RingWriter(ring), () => undefined));
    this.clock = new BatchClock(() => this.nowMs);
    this.rules = new QueueRules(
      this.clock,
      null,
      this.memory,
      this.events,
      this.timers,
      this.active,
      this.pausedConnections,
    );
    this.credit = new ChannelCredit(this.events, this.active);
    this.dispatch = new ConsumerDispatch(
      this.channels,
      this.pausedConnections,
      this.active,
      this.credit,
      this.rules,
      this.timers,
      this.memory,
      null,
      this.events,
    );
    this.replies = new DurableReplies(this.events, null);
    this.control = new ControlRequests(
      this.queues,
      null,
      this.memory,
      this.rules,
      this.timers,
      this.active,
      this.dispatch,
      this.credit,
      this.replies,
      this.events,
    );
  }

  /** A queue in this shard, made directly (as queue.create would). */
  addQueue(queueId: number, args: Record<string, unknown> = {}, name = `q${queueId}`): Queue {
    const queue = new Queue({
      queueId,
      vhost: '/',
      name,
      isDurable: false,
      isAutoDelete: false,
      isExclusive: false,
      arguments: args,
    });
    this.queues.set(queueId, queue);
    return queue;
  }

  /** Queues plain messages (as the publish path does for a plain queue). */
  enqueue(queue: Queue, ...bodies: string[]): void {
    for (const body of bodies) {
      const message = messageOf(body);
      this.memory.holdCopy(message);
      queue.enqueue(message);
    }
    if (queue.consumers.length > 0) this.active.activate(queue);
  }

  /** Ends a batch as Shard.afterBatch does (no log): deliveries, idle credit, flush. */
  afterBatch(): void {
    this.dispatch.dispatch();
    if (this.credit.hasLimitedChannels) this.credit.returnIdle();
    this.events.flush();
  }

  /** The events sent since the last take(). */
  take(): ShardEvent[] {
    this.reader.poll(this, 1 << 20);
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    const bodyOf = (blockStart: number) => {
      const view = this.view.read(bytes, blockStart, end);
      return bytes.toString('utf8', view.bodyStart, view.bodyEnd);
    };
    if (type === EVT_DELIVER) {
      this.sent.push({
        type: 'deliver',
        consumerId: readDeliverConsumerId(bytes, start),
        deliveryId: readDeliverDeliveryId(bytes, start),
        flags: readDeliverFlags(bytes, start),
        body: bodyOf(deliverBlockStart(start)),
      });
    } else if (type === EVT_GET_OK) {
      this.sent.push({
        type: 'get-ok',
        deliveryId: readGetOkDeliveryId(bytes, start),
        isRedelivered: readGetOkIsRedelivered(bytes, start),
        messageCount: readGetOkMessageCount(bytes, start),
        body: bodyOf(getOkBlockStart(start)),
      });
    } else if (type === EVT_REPLY) {
      this.sent.push({
        type: 'reply',
        requestId: readReplyRequestId(bytes, start),
        code: readReplyCode(bytes, start),
        value: readReplyValue(bytes, start),
        text: readReplyText(bytes, start, end),
      });
    } else if (type === EVT_CREDIT) {
      this.sent.push({
        type: 'credit',
        connectionId: readConnectionId(bytes, start),
        channelId: readChannelId(bytes, start),
        amount: readCreditAmount(bytes, start),
      });
    } else if (type === EVT_CONFIRM || type === EVT_REJECT) {
      this.sent.push({
        type: type === EVT_CONFIRM ? 'confirm' : 'reject',
        connectionId: readConnectionId(bytes, start),
        channelId: readChannelId(bytes, start),
        seq: readConfirmSeq(bytes, start),
      });
    } else if (type === EVT_DEAD_LETTER) {
      this.sent.push({
        type: 'dead-letter',
        reason: readDeadLetterReason(bytes, start),
        body: bodyOf(deadLetterBlockStart(bytes, start)),
      });
    }
  }
}
