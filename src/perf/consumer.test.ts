// Unit tests for Consumer against a stand-in connection (no network): end-to-end latency from
// the send time, and the three ack modes (each delivery, multiple every N, autoack).

import { describe, expect, it } from 'vitest';
import type { AmqpConnection } from './amqp-connection.js';
import { Consumer } from './consumer.js';
import { createLatencyHistogram, sharedClockMs } from './latency.js';
import { parsePerfOptions } from './options.js';

class FakeConnection {
  acks: { channel: number; deliveryTag: number; isMultiple: boolean }[] = [];
  flushes = 0;
  writeBasicAck(channel: number, deliveryTag: number, isMultiple: boolean): void {
    this.acks.push({ channel, deliveryTag, isMultiple });
  }
  scheduleFlush(): void {
    this.flushes++;
  }
}

describe('Consumer', () => {
  function consumerWith(argv: string[]) {
    const connection = new FakeConnection();
    const histogram = createLatencyHistogram();
    const consumer = new Consumer(
      connection as unknown as AmqpConnection,
      5,
      parsePerfOptions(argv),
      histogram,
    );
    return { consumer, connection, histogram };
  }

  it('acks each delivery by default and records its latency', () => {
    const { consumer, connection, histogram } = consumerWith([]);
    consumer.onDelivery(1, sharedClockMs() - 2);
    consumer.onDelivery(2, sharedClockMs() - 2);
    expect(connection.acks).toEqual([
      { channel: 5, deliveryTag: 1, isMultiple: false },
      { channel: 5, deliveryTag: 2, isMultiple: false },
    ]);
    expect(histogram.totalCount).toBe(2);
    expect(histogram.minNonZeroValue).toBeGreaterThanOrEqual(1900);
  });

  it('acks with multiple every --multi-ack deliveries, and the rest at the end', () => {
    const { consumer, connection } = consumerWith(['--multi-ack', '3']);
    for (let tag = 1; tag <= 7; tag++) consumer.onDelivery(tag, sharedClockMs());
    expect(connection.acks).toEqual([
      { channel: 5, deliveryTag: 3, isMultiple: true },
      { channel: 5, deliveryTag: 6, isMultiple: true },
    ]);
    consumer.ackRemaining();
    expect(connection.acks.at(-1)).toEqual({ channel: 5, deliveryTag: 7, isMultiple: true });
    consumer.ackRemaining();
    expect(connection.acks).toHaveLength(3);
  });

  it('never acks with --autoack, and counts deliveries without a send time', () => {
    const { consumer, connection, histogram } = consumerWith(['--autoack']);
    consumer.onDelivery(1, sharedClockMs());
    consumer.onDelivery(2, NaN);
    expect(connection.acks).toEqual([]);
    expect(consumer.receivedCount).toBe(2);
    expect(consumer.foreignCount).toBe(1);
    expect(histogram.totalCount).toBe(1);
  });
});
