import { describe, expect, it } from 'vitest';
import { MemoryStorage, SegmentedLog } from '../log/index.js';
import { type LoggedMessage, MessageStore } from './message-store.js';
import { TimedQueueEntry } from './queue.js';

async function openStore(storage: MemoryStorage): Promise<MessageStore> {
  let store: MessageStore | null = null;
  await SegmentedLog.open(storage, {}, (log) => (store = new MessageStore(log)));
  return store!;
}

function message(): LoggedMessage {
  return { segment: 0, payloadOffset: 0, payloadBytes: 0, liveRefs: 0, isTimedRecord: false };
}

async function sync(store: MessageStore): Promise<void> {
  store.flushRefs();
  store.log.requestSync();
  store.log.flush();
  const target = store.log.appendSeq;
  while (store.log.durableSeq < target) await new Promise((resolve) => setImmediate(resolve));
}

describe('MessageStore', () => {
  it('recovers unsettled copies with their delivery counts, in queue order', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    const ids = new Uint32Array([7, 8]);
    const blocks = ['a', 'b', 'c'].map((text) => Buffer.from(text));
    const messages = blocks.map(() => message());
    // Three messages, each to queues 7 and 8 with seq 1..3.
    messages.forEach((logged, i) =>
      store.logMessage(logged, blocks[i]!, ids, new Float64Array([i + 1, i + 1]), 2),
    );
    store.settle(messages[0]!, 7, 1);
    store.delivered(8, 2);
    store.requeue(7, 3, 4);
    await sync(store);
    const recovered = await openStore(storage.crashed());
    const queue7 = recovered.claimRecovered(7);
    const queue8 = recovered.claimRecovered(8);
    expect(
      queue7.map((copy) => [copy.seq, copy.message.block!.toString(), copy.deliveryCount]),
    ).toEqual([
      [2, 'b', 0],
      [3, 'c', 4],
    ]);
    expect(
      queue8.map((copy) => [copy.seq, copy.message.block!.toString(), copy.deliveryCount]),
    ).toEqual([
      [1, 'a', 0],
      [2, 'b', 1],
      [3, 'c', 0],
    ]);
    // One stored copy per message, shared by both queues.
    expect(queue7[0]!.message).toBe(queue8[1]!.message);
  });

  it('forgets a deleted queue and unclaimed queues', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    store.logMessage(message(), Buffer.from('x'), new Uint32Array([1]), new Float64Array([1]), 1);
    store.logMessage(message(), Buffer.from('y'), new Uint32Array([2]), new Float64Array([1]), 1);
    store.queueDeleted(1);
    await sync(store);
    const recovered = await openStore(storage.crashed());
    expect(recovered.claimRecovered(1)).toEqual([]);
    expect(recovered.recovered.has(2)).toBe(true);
    recovered.discardUnclaimed();
    expect(recovered.recovered.size).toBe(0);
  });

  it('applies a transaction all or nothing', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    const first = message();
    store.logMessage(first, Buffer.from('before'), new Uint32Array([1]), new Float64Array([1]), 1);
    await sync(store);
    store.beginTransaction();
    const inside = [message(), message()];
    store.logMessage(
      inside[0]!,
      Buffer.from('tx-1'),
      new Uint32Array([1]),
      new Float64Array([2]),
      1,
    );
    store.logMessage(
      inside[1]!,
      Buffer.from('tx-2'),
      new Uint32Array([1]),
      new Float64Array([3]),
      1,
    );
    store.settle(first, 1, 1);
    store.commitTransaction(inside);
    // A crash that tears the transaction record: none of it applies.
    const torn = await openStore(storage.crashed((_segment, unsynced) => unsynced - 3));
    expect(torn.claimRecovered(1).map((copy) => copy.message.block!.toString())).toEqual([
      'before',
    ]);
    await sync(store);
    const whole = await openStore(storage.crashed());
    expect(whole.claimRecovered(1).map((copy) => copy.message.block!.toString())).toEqual([
      'tx-1',
      'tx-2',
    ]);
  });

  it('keeps the newest copy of a message compaction rewrote', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    const original = message();
    store.logMessage(
      original,
      Buffer.from('moved'),
      new Uint32Array([1]),
      new Float64Array([5]),
      1,
    );
    const copy = { ...original, segment: 0, liveRefs: 0 };
    store.logMessage(copy, Buffer.from('moved'), new Uint32Array([1]), new Float64Array([5]), 1);
    await sync(store);
    const recovered = await openStore(storage.crashed());
    const copies = recovered.claimRecovered(1);
    expect(copies).toHaveLength(1);
    expect(copies[0]!.message.block!.toString()).toBe('moved');
  });

  it('keeps absolute expiry times of timed records through recovery, compaction and reads', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    const timed = message();
    const block = Buffer.from('\u0000\u0000\u0000\u0000\u0000\u0000body', 'latin1');
    store.logMessage(
      timed,
      block,
      new Uint32Array([1, 2]),
      new Float64Array([1, 1]),
      2,
      new Float64Array([1_000_500, Infinity]),
    );
    expect(timed.isTimedRecord).toBe(true);
    await sync(store);
    // A paged-out body is read back past the longer refs of a timed record.
    expect(store.readBlock(timed).toString('latin1')).toBe(block.toString('latin1'));
    store.relocateMessage(
      timed,
      block,
      new Uint32Array([1]),
      new Float64Array([1]),
      1,
      new Float64Array([1_000_500]),
    );
    store.settle(timed, 2, 1);
    await sync(store);
    const recovered = await openStore(storage.crashed());
    const copies = recovered.claimRecovered(1);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toBeInstanceOf(TimedQueueEntry);
    expect((copies[0] as TimedQueueEntry).expiresAtMs).toBe(1_000_500);
    expect(copies[0]!.message.bodyBytes).toBe(4);
    expect(recovered.claimRecovered(2)).toEqual([]);
  });

  it('persists definitions, their updates and deletions', async () => {
    const storage = new MemoryStorage();
    const store = await openStore(storage);
    store.putDefinition({ kind: 'queue', key: '/\u0000q1', value: { durable: true } });
    store.putDefinition({ kind: 'queue', key: '/\u0000q2', value: { durable: true } });
    store.putDefinition({
      kind: 'queue',
      key: '/\u0000q1',
      value: { durable: true, arguments: { a: 1 } },
    });
    store.putDefinition({ kind: 'queue', key: '/\u0000q2', value: null });
    await sync(store);
    const recovered = await openStore(storage.crashed());
    expect([...recovered.definitions.values()].map((entry) => entry.record)).toEqual([
      { kind: 'queue', key: '/\u0000q1', value: { durable: true, arguments: { a: 1 } } },
    ]);
  });
});
