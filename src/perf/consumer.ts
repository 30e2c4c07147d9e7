// One consumer of warren-perf: a channel on a client-thread connection that records each
// delivery's end-to-end latency (now minus the send time in its body) and acks every delivery,
// or every N with multiple=true (--multi-ack), or never (--autoack). Client thread.

import type { AmqpConnection, ChannelHandler } from './amqp-connection.js';
import { BrokerError } from './errors.js';
import { recordLatency, sharedClockMs, type Histogram } from './latency.js';
import type { PerfOptions } from './options.js';

export class Consumer implements ChannelHandler {
  receivedCount: number;
  /** Deliveries whose body was too short to carry a send time (not ours). */
  foreignCount: number;
  /** Shared-clock time of the last delivery. */
  lastActivityMs: number;

  private readonly connection: AmqpConnection;
  private readonly channel: number;
  private readonly endToEndLatency: Histogram;
  private readonly isAutoAck: boolean;
  private readonly ackEvery: number;
  private unackedCount: number;
  private lastDeliveryTag: number;

  constructor(
    connection: AmqpConnection,
    channel: number,
    options: PerfOptions,
    endToEndLatency: Histogram,
  ) {
    this.receivedCount = 0;
    this.foreignCount = 0;
    this.lastActivityMs = 0;
    this.connection = connection;
    this.channel = channel;
    this.endToEndLatency = endToEndLatency;
    this.isAutoAck = options.isAutoAck;
    this.ackEvery = Math.max(1, options.multiAckEvery);
    this.unackedCount = 0;
    this.lastDeliveryTag = 0;
  }

  /** Hot path: one whole message. */
  onDelivery(deliveryTag: number, sendTimeMs: number): void {
    this.receivedCount++;
    const nowMs = sharedClockMs();
    this.lastActivityMs = nowMs;
    if (sendTimeMs === sendTimeMs) recordLatency(this.endToEndLatency, sendTimeMs, nowMs);
    else this.foreignCount++;
    if (this.isAutoAck) return;
    this.lastDeliveryTag = deliveryTag;
    this.unackedCount++;
    if (this.unackedCount >= this.ackEvery) {
      this.connection.writeBasicAck(this.channel, deliveryTag, this.ackEvery > 1);
      this.unackedCount = 0;
      this.connection.scheduleFlush();
    }
  }

  /** Acks what a partial --multi-ack batch left unacked, before the connection closes. */
  ackRemaining(): void {
    if (this.unackedCount === 0) return;
    this.connection.writeBasicAck(this.channel, this.lastDeliveryTag, true);
    this.unackedCount = 0;
    this.connection.scheduleFlush();
  }

  onConfirm(): void {
    throw new BrokerError(
      'protocol-violation',
      'the broker sent a publisher confirm to a consumer channel',
    );
  }
}
