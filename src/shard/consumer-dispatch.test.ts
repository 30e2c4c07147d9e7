// Consumer dispatch on its own: round-robin among a queue's consumers, per-consumer prefetch,
// channel-wide credit (asked for once, spent per delivery in ack mode, given back when idle),
// connection flow, and settling (ack, requeue with the redelivered flag, discard, no-ack).

import { describe, expect, it } from 'vitest';
import { type ShardEvent, ShardParts } from '../../test/helpers/shard-parts.js';
import { Consumer, type Queue } from './queue.js';
import {
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  SETTLE_ACK,
  SETTLE_DISCARD,
  SETTLE_REQUEUE,
  settleRecordBytes,
  writeSettleRecord,
} from './records.js';

const CONNECTION_ID = 1;
const CHANNEL_ID = 1;

function consume(
  parts: ShardParts,
  queue: Queue,
  consumerId: number,
  prefetchCount = 0,
  isNoAck = false,
  channelId = CHANNEL_ID,
): Consumer {
  const channel = parts.dispatch.channelFor(CONNECTION_ID, channelId);
  const consumer = new Consumer(consumerId, queue, channel, prefetchCount, isNoAck);
  parts.dispatch.addConsumer(consumer);
  return consumer;
}

function settle(parts: ShardParts, action: number, ...deliveryIds: number[]): void {
  const record = Buffer.alloc(settleRecordBytes(deliveryIds.length));
  writeSettleRecord(
    record,
    0,
    CONNECTION_ID,
    CHANNEL_ID,
    action,
    Float64Array.from(deliveryIds),
    deliveryIds.length,
  );
  parts.dispatch.settle(record, 0);
}

function deliveries(events: ShardEvent[]): [number, string][] {
  return events.flatMap((event) =>
    event.type === 'deliver' ? [[event.consumerId, event.body] as [number, string]] : [],
  );
}

describe('consumer dispatch', () => {
  it('delivers round-robin among consumers, with ids from one counter', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    consume(parts, queue, 10);
    consume(parts, queue, 11);
    parts.enqueue(queue, 'a', 'b', 'c', 'd');
    parts.afterBatch();
    const events = parts.take();
    expect(deliveries(events)).toEqual([
      [10, 'a'],
      [11, 'b'],
      [10, 'c'],
      [11, 'd'],
    ]);
    expect(events.map((event) => (event.type === 'deliver' ? event.deliveryId : 0))).toEqual([
      1, 2, 3, 4,
    ]);
    expect(queue.unackedCount).toBe(4);
    expect(parts.active.length).toBe(0);
  });

  it('stops at the prefetch count and goes on as deliveries are acked', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    const consumer = consume(parts, queue, 10, 2);
    parts.enqueue(queue, 'a', 'b', 'c', 'd', 'e');
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([
      [10, 'a'],
      [10, 'b'],
    ]);
    settle(parts, SETTLE_ACK, 1);
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[10, 'c']]);
    expect(consumer.unackedCount).toBe(2);
    expect(queue.ackedCount).toBe(1);
    expect(queue.readyCount).toBe(2);
  });

  it('spends channel credit per delivery, asks for more once, and gives idle credit back', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    consume(parts, queue, 10);
    parts.dispatch.setChannelCreditLimited(CONNECTION_ID, CHANNEL_ID, true);
    parts.enqueue(queue, 'a', 'b', 'c');
    parts.afterBatch();
    // Still without credit: a second turn does not ask again.
    parts.active.activate(queue);
    parts.afterBatch();
    const asked = { type: 'credit', connectionId: CONNECTION_ID, channelId: CHANNEL_ID, amount: 0 };
    expect(parts.take()).toEqual([asked]);

    parts.dispatch.addCredit(CONNECTION_ID, CHANNEL_ID, 2);
    parts.afterBatch();
    const events = parts.take();
    expect(deliveries(events)).toEqual([
      [10, 'a'],
      [10, 'b'],
    ]);
    for (const event of events.filter((event) => event.type === 'deliver'))
      expect(event.flags & DELIVER_FLAG_USED_CREDIT).toBe(DELIVER_FLAG_USED_CREDIT);
    expect(events.at(-1)).toEqual(asked);

    // Credit for a queue that has run dry goes back at the end of the batch.
    parts.dispatch.addCredit(CONNECTION_ID, CHANNEL_ID, 5);
    parts.afterBatch();
    expect(parts.take()).toEqual([
      {
        type: 'deliver',
        consumerId: 10,
        deliveryId: 3,
        flags: DELIVER_FLAG_USED_CREDIT,
        body: 'c',
      },
      { type: 'credit', connectionId: CONNECTION_ID, channelId: CHANNEL_ID, amount: 4 },
    ]);
  });

  it('holds deliveries to a congested connection until it drains', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    consume(parts, queue, 10);
    parts.dispatch.connectionFlow(CONNECTION_ID, true);
    parts.enqueue(queue, 'a');
    parts.afterBatch();
    expect(parts.take()).toEqual([]);
    parts.dispatch.connectionFlow(CONNECTION_ID, false);
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[10, 'a']]);
  });

  it('requeues to the old place with the redelivered flag, discards, and forgets no-ack', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    consume(parts, queue, 10, 1);
    parts.enqueue(queue, 'a', 'b');
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[10, 'a']]);
    settle(parts, SETTLE_REQUEUE, 1);
    parts.afterBatch();
    const [again] = parts.take();
    expect(again).toMatchObject({ body: 'a', flags: DELIVER_FLAG_REDELIVERED });
    settle(parts, SETTLE_DISCARD, 2);
    // A settle for an unknown delivery id is ignored.
    settle(parts, SETTLE_ACK, 2);
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[10, 'b']]);
    expect(queue.ackedCount).toBe(1);

    const noAck = parts.addQueue(2);
    consume(parts, noAck, 20, 0, true, 2);
    const before = parts.memory.bodyBytesInMemory;
    parts.enqueue(noAck, 'x');
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[20, 'x']]);
    expect(noAck.unackedCount).toBe(0);
    expect(parts.memory.bodyBytesInMemory).toBe(before);
  });

  it('closing a channel cancels its consumers and requeues its deliveries to the others', () => {
    const parts = new ShardParts();
    const queue = parts.addQueue(1);
    consume(parts, queue, 10, 0, false, 1);
    parts.enqueue(queue, 'a');
    parts.afterBatch();
    expect(deliveries(parts.take())).toEqual([[10, 'a']]);
    consume(parts, queue, 11, 0, false, 2);
    parts.dispatch.closeChannel(CONNECTION_ID, 1);
    parts.afterBatch();
    expect(parts.take()).toMatchObject([
      { consumerId: 11, body: 'a', flags: DELIVER_FLAG_REDELIVERED },
    ]);
    expect(parts.dispatch.consumers.has(10)).toBe(false);
    expect(queue.consumers.map((consumer) => consumer.consumerId)).toEqual([11]);
  });
});
