// Control requests on their own: each is answered once, with RabbitMQ's reply codes and texts
// where one is refused (queue.delete if-empty / if-unused 406, a missing queue 404), and does
// what it says to the queues, consumers and channels of the shard.

import { describe, expect, it } from 'vitest';
import { ShardParts } from '../../test/helpers/shard-parts.js';
import type { ControlRequest, QueueSpec } from './records.js';

const SPEC: QueueSpec = {
  queueId: 5,
  vhost: '/',
  name: 'jobs',
  isDurable: false,
  isAutoDelete: false,
  isExclusive: false,
  arguments: {},
};

/** Sends `request` as request `requestId` and returns its answer. */
function ask(parts: ShardParts, requestId: number, request: ControlRequest) {
  parts.control.handle(requestId, request);
  parts.afterBatch();
  return parts.take();
}

function consumeRequest(consumerId: number, channelId = 1, queueId = SPEC.queueId): ControlRequest {
  return {
    op: 'consume',
    queueId,
    consumerId,
    connectionId: 1,
    channelId,
    prefetchCount: 0,
    isNoAck: false,
    isChannelCreditLimited: false,
    priority: 0,
  };
}

describe('control requests', () => {
  it('creates a queue once and answers barriers; request 0 gets no answer', () => {
    const parts = new ShardParts();
    expect(ask(parts, 1, { op: 'queue.create', queue: SPEC })).toEqual([
      { type: 'reply', requestId: 1, code: 0, value: 0, text: '' },
    ]);
    const queue = parts.queues.get(SPEC.queueId);
    ask(parts, 2, { op: 'queue.create', queue: SPEC });
    expect(parts.queues.get(SPEC.queueId)).toBe(queue);
    expect(ask(parts, 0, { op: 'barrier' })).toEqual([]);
    expect(
      ask(parts, 3, { op: 'definition.put', record: { kind: 'k', key: 'x', value: 1 } }),
    ).toMatchObject([{ requestId: 3, code: 0 }]);
  });

  it('refuses to delete a queue that is not empty or in use, as RabbitMQ, then deletes it', () => {
    const parts = new ShardParts();
    ask(parts, 1, { op: 'queue.create', queue: SPEC });
    const queue = parts.queues.get(SPEC.queueId)!;
    parts.enqueue(queue, 'a', 'b');
    const deleteRequest = { op: 'queue.delete', queueId: SPEC.queueId } as const;
    expect(ask(parts, 2, { ...deleteRequest, isIfEmpty: true, isIfUnused: true })).toEqual([
      {
        type: 'reply',
        requestId: 2,
        code: 406,
        value: 0,
        text: "queue 'jobs' in vhost '/' not empty",
      },
    ]);
    ask(parts, 3, { op: 'queue.purge', queueId: SPEC.queueId });
    ask(parts, 4, consumeRequest(9));
    expect(ask(parts, 5, { ...deleteRequest, isIfEmpty: true, isIfUnused: true })).toEqual([
      {
        type: 'reply',
        requestId: 5,
        code: 406,
        value: 0,
        text: "queue 'jobs' in vhost '/' in use",
      },
    ]);
    parts.enqueue(queue, 'c');
    parts.afterBatch();
    expect(parts.take()).toMatchObject([{ type: 'deliver', body: 'c' }]);
    parts.enqueue(queue, 'd');
    parts.dispatch.connectionFlow(1, true);
    expect(ask(parts, 6, { ...deleteRequest, isIfEmpty: false, isIfUnused: false })).toEqual([
      { type: 'reply', requestId: 6, code: 0, value: 1, text: '' },
    ]);
    expect(parts.queues.has(SPEC.queueId)).toBe(false);
    expect(parts.dispatch.consumers.size).toBe(0);
    expect(queue.isDeleted).toBe(true);
    // Deleting a queue that is gone is not an error.
    expect(ask(parts, 7, { ...deleteRequest, isIfEmpty: true, isIfUnused: true })).toMatchObject([
      { requestId: 7, code: 0, value: 0 },
    ]);
  });

  it('purges, counts, and answers 404 for a queue that is not here', () => {
    const parts = new ShardParts();
    ask(parts, 1, { op: 'queue.create', queue: SPEC });
    parts.enqueue(parts.queues.get(SPEC.queueId)!, 'a', 'b', 'c');
    expect(ask(parts, 2, { op: 'queue.stats', queueId: SPEC.queueId })).toMatchObject([
      { code: 0, value: 3 },
    ]);
    expect(ask(parts, 3, { op: 'queue.purge', queueId: SPEC.queueId })).toMatchObject([
      { code: 0, value: 3 },
    ]);
    expect(parts.memory.bodyBytesInMemory).toBe(0);
    const notFound = { type: 'reply', code: 404, value: 0, text: 'no such queue' };
    expect(ask(parts, 4, { op: 'queue.stats', queueId: 99 })).toEqual([
      { ...notFound, requestId: 4 },
    ]);
    expect(ask(parts, 5, consumeRequest(1, 1, 99))).toEqual([{ ...notFound, requestId: 5 }]);
    const get = { op: 'get', queueId: 99, connectionId: 1, channelId: 1, isNoAck: true } as const;
    expect(ask(parts, 6, get)).toEqual([{ ...notFound, requestId: 6 }]);
  });

  it('basic.get answers get-ok with the count left, or empty; recover brings it back', () => {
    const parts = new ShardParts();
    ask(parts, 1, { op: 'queue.create', queue: SPEC });
    parts.enqueue(parts.queues.get(SPEC.queueId)!, 'a', 'b');
    const get = { op: 'get', queueId: SPEC.queueId, connectionId: 1, channelId: 1 } as const;
    expect(ask(parts, 2, { ...get, isNoAck: false })).toEqual([
      { type: 'get-ok', deliveryId: 1, isRedelivered: false, messageCount: 1, body: 'a' },
    ]);
    expect(ask(parts, 3, { ...get, isNoAck: true })).toMatchObject([{ body: 'b' }]);
    expect(ask(parts, 4, { ...get, isNoAck: true })).toEqual([
      { type: 'reply', requestId: 4, code: 0, value: 0, text: '' },
    ]);
    ask(parts, 5, { op: 'channel.recover', connectionId: 1, channelId: 1 });
    expect(ask(parts, 6, { ...get, isNoAck: true })).toMatchObject([
      { type: 'get-ok', isRedelivered: true, messageCount: 0, body: 'a' },
    ]);
  });

  it('consume delivers, cancel stops it, channel.close requeues what the channel held', () => {
    const parts = new ShardParts();
    ask(parts, 1, { op: 'queue.create', queue: SPEC });
    const queue = parts.queues.get(SPEC.queueId)!;
    parts.enqueue(queue, 'a');
    expect(ask(parts, 2, consumeRequest(7))).toMatchObject([
      { type: 'reply', requestId: 2 },
      { type: 'deliver', consumerId: 7, body: 'a' },
    ]);
    ask(parts, 3, { op: 'cancel', consumerId: 7 });
    parts.enqueue(queue, 'b');
    parts.afterBatch();
    expect(parts.take()).toEqual([]);
    ask(parts, 4, { op: 'channel.close', connectionId: 1, channelId: 1 });
    expect(queue.readyCount).toBe(2);
    expect(queue.unackedCount).toBe(0);
    expect(ask(parts, 5, consumeRequest(8, 2))).toMatchObject([
      { type: 'reply' },
      { type: 'deliver', consumerId: 8, body: 'a', flags: 1 },
      { type: 'deliver', consumerId: 8, body: 'b', flags: 0 },
    ]);
  });

  it('queue.arguments applies a lower length limit at once, dropping the oldest', () => {
    const parts = new ShardParts();
    ask(parts, 1, { op: 'queue.create', queue: SPEC });
    const queue = parts.queues.get(SPEC.queueId)!;
    parts.enqueue(queue, 'a', 'b', 'c');
    ask(parts, 2, {
      op: 'queue.arguments',
      queueId: SPEC.queueId,
      arguments: { 'x-max-length': 1 },
    });
    expect(queue.readyCount).toBe(1);
    expect(
      ask(parts, 3, {
        op: 'get',
        queueId: SPEC.queueId,
        connectionId: 1,
        channelId: 1,
        isNoAck: true,
      }),
    ).toMatchObject([{ body: 'c' }]);
  });
});
