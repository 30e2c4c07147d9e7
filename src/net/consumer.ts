// A consumer as the network thread knows it: its tag (also as bytes, for deliver frames), its
// queue and the channel that delivers to it. Network thread only. Shards name consumers by a
// broker-wide id; the registry maps those ids back to these objects.

import type { MessageBlockView } from '../shard/api.js';
import type { ConsumerRecord, QueueRecord } from './exchange.js';

/** What a consumer needs of the channel it belongs to. */
export interface ConsumerChannel {
  /** Set once either side closed the channel: deliveries to it are dropped (shards requeue). */
  readonly isClosing: boolean;
  /**
   * A shard delivered `view` (a message block in `block`) to `consumer` under `deliveryId`;
   * `flags` are the event's DELIVER_FLAG_* bits. Hot path.
   */
  deliver(
    consumer: ChannelConsumer,
    shardIndex: number,
    deliveryId: number,
    flags: number,
    block: Buffer,
    view: MessageBlockView,
  ): void;
  /** The consumer's queue is gone: forget the consumer. */
  cancelFromServer(consumer: ChannelConsumer): void;
  /** Tell the client the consumer is gone (consumer_cancel_notify). */
  sendServerCancel(consumer: ChannelConsumer): void;
}

export class ChannelConsumer implements ConsumerRecord {
  readonly consumerId: number;
  readonly tag: string;
  /** The tag as it goes into basic.deliver frames. */
  readonly tagBytes: Buffer;
  readonly queue: QueueRecord;
  readonly isExclusive: boolean;
  readonly isNoAck: boolean;
  readonly channel: ConsumerChannel;

  constructor(
    consumerId: number,
    tag: string,
    queue: QueueRecord,
    flags: { isExclusive: boolean; isNoAck: boolean },
    channel: ConsumerChannel,
  ) {
    this.consumerId = consumerId;
    this.tag = tag;
    this.tagBytes = Buffer.from(tag, 'utf8');
    this.queue = queue;
    this.isExclusive = flags.isExclusive;
    this.isNoAck = flags.isNoAck;
    this.channel = channel;
  }

  cancelFromServer(): void {
    this.channel.cancelFromServer(this);
  }

  sendServerCancel(): void {
    this.channel.sendServerCancel(this);
  }
}

/** Every live consumer by its broker-wide id, which deliveries carry. */
export class ConsumerRegistry {
  readonly byId = new Map<number, ChannelConsumer>();
  private nextConsumerId = 1;

  nextId(): number {
    return this.nextConsumerId++;
  }

  get size(): number {
    return this.byId.size;
  }
}
