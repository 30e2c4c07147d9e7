// Shard events turned into client frames: each delivery goes to the channel of the consumer it
// names, confirms, rejects and credit to the channel they name, dead letters back through
// their exchange. Network thread only; the delivery path is hot. A consumer or channel gone
// since the shard wrote the event is skipped: the shard requeues what it delivered there.

import {
  deliverBlockStart,
  MessageBlockView,
  readDeliverConsumerId,
  readDeliverDeliveryId,
  readDeliverFlags,
} from '../shard/api.js';
import type { Connection } from './connection.js';
import type { ConsumerRegistry } from './consumer.js';
import type { DeadLetterRouting } from './dead-letter-routing.js';
import type { BatchClock } from './confirm-tracker.js';
import type { ShardEventSink, ShardLink } from './shard-link.js';

export class ShardEventDispatcher implements ShardEventSink {
  private readonly connections: ReadonlyMap<number, Connection>;
  private readonly consumers: ConsumerRegistry;
  private readonly deadLetters: DeadLetterRouting;
  private readonly batchClock: BatchClock;
  private readonly view = new MessageBlockView();

  constructor(
    connections: ReadonlyMap<number, Connection>,
    consumers: ConsumerRegistry,
    deadLetters: DeadLetterRouting,
    batchClock: BatchClock,
  ) {
    this.connections = connections;
    this.consumers = consumers;
    this.deadLetters = deadLetters;
    this.batchClock = batchClock;
  }

  beforeEvents(): void {
    this.batchClock.nowMs = performance.now();
  }

  onDeliver(link: ShardLink, bytes: Buffer, start: number, end: number): void {
    const consumer = this.consumers.byId.get(readDeliverConsumerId(bytes, start));
    // A consumer already gone: its channel closed, and the shard requeues the message itself.
    if (consumer === undefined) return;
    const channel = consumer.channel;
    if (channel.isClosing) return;
    const view = this.view.read(bytes, deliverBlockStart(start), end);
    channel.deliver(
      consumer,
      link.shardIndex,
      readDeliverDeliveryId(bytes, start),
      readDeliverFlags(bytes, start),
      bytes,
      view,
    );
  }

  onDeadLetter(_link: ShardLink, bytes: Buffer, start: number, end: number): void {
    this.deadLetters.route(bytes, start, end);
  }

  onReject(_link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void {
    this.connections
      .get(connectionId)
      ?.channels.get(channelId)
      ?.publishing.onShardReject(confirmSeq);
  }

  onCredit(link: ShardLink, connectionId: number, channelId: number, amount: number): void {
    this.connections
      .get(connectionId)
      ?.channels.get(channelId)
      ?.consuming.onShardCredit(link.shardIndex, amount);
  }

  onConfirm(link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void {
    this.connections
      .get(connectionId)
      ?.channels.get(channelId)
      ?.publishing.onShardConfirm(link.shardIndex, confirmSeq);
  }
}
