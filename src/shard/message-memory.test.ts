// Message memory over a real (in-memory) log: over the budget, bodies whose records are durable
// leave memory newest first and come back from the log intact; unlogged bodies are written out
// as pages first and leave once those writes are durable; a failing log pages nothing.

import { describe, expect, it } from 'vitest';
import { messageOf } from '../../test/helpers/shard-parts.js';
import { MemoryStorage, SegmentedLog } from '../log/index.js';
import { MessageMemory } from './message-memory.js';
import { MessageStore } from './message-store.js';
import { Queue, type QueueEntry, type ShardChannel } from './queue.js';
import type { StoredMessage } from './stored-message.js';

async function openStore(): Promise<MessageStore> {
  let store: MessageStore | null = null;
  await SegmentedLog.open(new MemoryStorage(), {}, (log) => (store = new MessageStore(log)));
  return store!;
}

/** Flushes the log and waits until everything appended is durable. */
async function sync(store: MessageStore): Promise<void> {
  store.flushRefs();
  store.log.requestSync();
  store.log.flush();
  const target = store.log.appendSeq;
  while (store.log.durableSeq < target) await new Promise((resolve) => setImmediate(resolve));
}

function queueOf(isDurable: boolean): Queue {
  return new Queue({
    queueId: 1,
    vhost: '/',
    name: 'q',
    isDurable,
    isAutoDelete: false,
    isExclusive: false,
    arguments: {},
  });
}

/** Four equal messages queued in `queue`; logged (durable copies) when `isLogged`. */
function fill(
  memory: MessageMemory,
  store: MessageStore,
  queue: Queue,
  isLogged: boolean,
): [StoredMessage[], QueueEntry[]] {
  const messages: StoredMessage[] = [];
  const entries: QueueEntry[] = [];
  for (const body of ['body-1', 'body-2', 'body-3', 'body-4']) {
    const message = messageOf(body);
    memory.holdCopy(message);
    const entry = queue.enqueue(message);
    if (isLogged) {
      message.appendSeq = store.logMessage(
        message,
        message.block!,
        Uint32Array.of(queue.queueId),
        Float64Array.of(entry.seq),
        1,
      );
      memory.awaitDurability(message);
    } else {
      memory.offerUnlogged(message);
    }
    messages.push(message);
    entries.push(entry);
  }
  return [messages, entries];
}

function bodyOf(block: Buffer): string {
  return block.toString('utf8', block.length - 6);
}

describe('message memory', () => {
  it('pages durable bodies out newest first, reads them back, and counts them down', async () => {
    const store = await openStore();
    const queue = queueOf(true);
    const each = messageOf('body-0').memoryBytes;
    const memory = new MessageMemory(store, 2.5 * each, new Map([[1, queue]]), new Map());
    const [messages, entries] = fill(memory, store, queue, true);
    expect(memory.bodyBytesInMemory).toBe(4 * each);
    // Not durable yet: nothing may leave.
    memory.afterBatch();
    expect(messages.every((message) => message.block !== null)).toBe(true);

    await sync(store);
    memory.markDurable(store.log.durableSeq);
    expect(messages.map((message) => message.block === null)).toEqual([false, false, true, true]);
    expect(memory.bodyBytesInMemory).toBe(2 * each);
    expect(entries.map((entry) => bodyOf(memory.blockOf(entry)))).toEqual([
      'body-1',
      'body-2',
      'body-3',
      'body-4',
    ]);
    memory.forget(queue, queue.take()!);
    expect(memory.bodyBytesInMemory).toBe(each);
    memory.forget(queue, queue.take()!);
    memory.forget(queue, queue.take()!);
    expect(memory.bodyBytesInMemory).toBe(0);
  });

  it('writes unlogged bodies out as pages, drops them once durable; not on a failing log', async () => {
    const store = await openStore();
    const queue = queueOf(false);
    const each = messageOf('body-0').memoryBytes;
    const channels = new Map<number, ShardChannel>();
    const memory = new MessageMemory(store, 2.5 * each, new Map([[1, queue]]), channels);
    memory.isLogFailing = true;
    const [messages, entries] = fill(memory, store, queue, false);
    memory.afterBatch();
    expect(messages.some((message) => message.isPageRecord)).toBe(false);

    memory.isLogFailing = false;
    memory.afterBatch();
    expect(messages.map((message) => message.isPageRecord)).toEqual([false, false, true, true]);
    // Still in memory until the pages are durable.
    expect(memory.bodyBytesInMemory).toBe(4 * each);
    await sync(store);
    memory.markDurable(store.log.durableSeq);
    expect(messages.map((message) => message.block === null)).toEqual([false, false, true, true]);
    expect(memory.bodyBytesInMemory).toBe(2 * each);
    expect(bodyOf(memory.blockOf(entries[3]!))).toBe('body-4');
  });
});
