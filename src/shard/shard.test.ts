// A shard over a log whose storage fails (a full disk, an I/O error): confirms for the lost
// publishes become rejects (then the confirm that covers them), in order, while a transient
// publish behind them is confirmed as usual; a lost transaction is answered 406; a lost definition
// is written again and answered once the log heals; acked messages survive a crash after it.

import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FaultyStorage, MemoryStorage, SegmentedLog } from '../log/index.js';
import { allocateRing, RingOutbox, RingReader, type RingSink, RingWriter } from '../util/index.js';
import { type DefinitionRecord, MessageStore } from './message-store.js';
import {
  CMD_CONTROL,
  CMD_PUBLISH,
  CMD_TRANSACTION,
  CONTROL_HEADER_BYTES,
  type ControlRequest,
  EVT_CONFIRM,
  EVT_REJECT,
  EVT_REPLY,
  MessageBlockView,
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_PERSISTENT,
  OutgoingPublish,
  publishRecordBytes,
  readConfirmSeq,
  readReplyCode,
  readReplyRequestId,
  readReplyText,
  TRANSACTION_HEADER_BYTES,
  TRANSACTION_NESTED_HEADER_BYTES,
  writeControlHeader,
  writeNestedHeader,
  writePublishRecord,
  writeTransactionHeader,
} from './records.js';
import { Shard } from './shard.js';

const QUEUE_ID = 3;
const CONNECTION_ID = 1;
const CHANNEL_ID = 1;

/** A publish record's payload: one queue, an empty exchange and routing key, `body`. */
function publishPayload(flags: number, confirmSeq: number, body: string): Buffer {
  const bytes = Buffer.from(body);
  const head = Buffer.from([0, 0]); // exchange '' and routing key ''
  const properties = Buffer.from([0]); // no properties set
  const publish = new OutgoingPublish().setMessage(
    head,
    head.length,
    properties,
    properties.length,
    bytes,
    0,
    bytes.length,
  );
  publish.connectionId = CONNECTION_ID;
  publish.channelId = CHANNEL_ID;
  publish.flags = flags;
  publish.confirmSeq = confirmSeq;
  const payload = Buffer.alloc(publishRecordBytes(publish, 1));
  writePublishRecord(payload, 0, publish, Uint32Array.of(QUEUE_ID), 1);
  return payload;
}

type Event =
  | { kind: 'confirm'; seq: number }
  | { kind: 'reject'; seq: number }
  | { kind: 'reply'; requestId: number; code: number; text: string };

class Harness implements RingSink {
  readonly events: Event[] = [];
  readonly shard: Shard;
  readonly health: boolean[] = [];
  private readonly reader: RingReader;
  private nextRequestId = 1;

  constructor(readonly store: MessageStore) {
    const ring = allocateRing(1 << 20);
    this.reader = new RingReader(ring);
    const outbox = new RingOutbox(new RingWriter(ring), () => undefined);
    this.shard = new Shard(0, outbox, store);
    this.shard.onLogHealth = (isFailing) => this.health.push(isFailing);
  }

  run(type: number, payload: Buffer): void {
    this.shard.beginBatch();
    this.shard.onRecord(type, payload, 0, payload.length);
    this.shard.afterBatch();
    this.poll();
  }

  poll(): void {
    this.reader.poll(this, 1 << 20);
  }

  control(request: ControlRequest): number {
    const requestId = this.nextRequestId++;
    const packed = pack(request);
    const payload = Buffer.allocUnsafe(CONTROL_HEADER_BYTES + packed.length);
    packed.copy(payload, writeControlHeader(payload, 0, requestId));
    this.run(CMD_CONTROL, payload);
    return requestId;
  }

  transaction(bodies: string[]): number {
    const requestId = this.nextRequestId++;
    const nested = bodies.map((body) => {
      const publish = publishPayload(PUBLISH_FLAG_PERSISTENT, 0, body);
      const record = Buffer.alloc(TRANSACTION_NESTED_HEADER_BYTES + publish.length);
      publish.copy(record, writeNestedHeader(record, 0, CMD_PUBLISH, publish.length));
      return record;
    });
    const header = Buffer.alloc(TRANSACTION_HEADER_BYTES);
    writeTransactionHeader(header, 0, requestId, nested.length);
    this.run(CMD_TRANSACTION, Buffer.concat([header, ...nested]));
    return requestId;
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    if (type === EVT_CONFIRM)
      this.events.push({ kind: 'confirm', seq: readConfirmSeq(bytes, start) });
    else if (type === EVT_REJECT)
      this.events.push({ kind: 'reject', seq: readConfirmSeq(bytes, start) });
    else if (type === EVT_REPLY)
      this.events.push({
        kind: 'reply',
        requestId: readReplyRequestId(bytes, start),
        code: readReplyCode(bytes, start),
        text: readReplyText(bytes, start, end),
      });
  }

  replyTo(requestId: number): Event | undefined {
    return this.events.find((event) => event.kind === 'reply' && event.requestId === requestId);
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function openShard(storage: MemoryStorage | FaultyStorage): Promise<Harness> {
  let store: MessageStore | null = null;
  await SegmentedLog.open(storage, {}, (log) => (store = new MessageStore(log)));
  const harness = new Harness(store!);
  harness.control({
    op: 'queue.create',
    queue: {
      queueId: QUEUE_ID,
      vhost: '/',
      name: 'q',
      isDurable: true,
      isAutoDelete: false,
      isExclusive: false,
      arguments: {},
    },
  });
  harness.control({ op: 'recovery.done' });
  return harness;
}

const CONFIRMED_PERSISTENT = PUBLISH_FLAG_CONFIRM | PUBLISH_FLAG_PERSISTENT;

describe('a shard whose log fails', () => {
  it('rejects lost publishes in order, fails lost transactions, rewrites lost definitions, heals', async () => {
    const memory = new MemoryStorage();
    const storage = new FaultyStorage(memory);
    const harness = await openShard(storage);
    const log = harness.store.log;
    for (let seq = 1; seq <= 3; seq++)
      harness.run(CMD_PUBLISH, publishPayload(CONFIRMED_PERSISTENT, seq, `kept-${seq}`));
    await until(() => {
      harness.poll();
      return harness.events.some((e) => e.kind === 'confirm' && e.seq === 3);
    });
    expect(harness.events.filter((e) => e.kind === 'reject')).toEqual([]);
    harness.events.length = 0;

    storage.faults.write = 'ENOSPC';
    harness.run(CMD_PUBLISH, publishPayload(CONFIRMED_PERSISTENT, 4, 'lost-4'));
    harness.run(CMD_PUBLISH, publishPayload(CONFIRMED_PERSISTENT, 5, 'lost-5'));
    // A transient publish behind them needs no log: it is confirmed, not rejected.
    harness.run(CMD_PUBLISH, publishPayload(PUBLISH_FLAG_CONFIRM, 6, 'transient-6'));
    const transaction = harness.transaction(['tx-1', 'tx-2']);
    const definition: DefinitionRecord = { kind: 'vhost', key: 'v', value: { name: 'v' } };
    const definitionRequest = harness.control({ op: 'definition.put', record: definition });
    await until(() => harness.health.includes(true));
    harness.poll();
    expect(log.isFailing).toBe(true);
    const confirms = harness.events.filter((e) => e.kind !== 'reply');
    expect(confirms).toEqual([
      { kind: 'reject', seq: 4 },
      { kind: 'reject', seq: 5 },
      { kind: 'confirm', seq: 6 },
    ]);
    expect(harness.replyTo(transaction)).toMatchObject({ code: 406 });
    expect((harness.replyTo(transaction) as { text: string }).text).toMatch(
      /^partial tx completion: the log could not store the transaction \(ENOSPC/,
    );
    // The definition waits for the log to heal rather than failing.
    expect(harness.replyTo(definitionRequest)).toBeUndefined();

    storage.faults.write = null;
    await until(() => harness.health.at(-1) === false, 3000);
    await until(() => {
      harness.poll();
      return harness.replyTo(definitionRequest) !== undefined;
    });
    expect(harness.replyTo(definitionRequest)).toMatchObject({ code: 0 });
    harness.events.length = 0;
    harness.run(CMD_PUBLISH, publishPayload(CONFIRMED_PERSISTENT, 7, 'after-7'));
    await until(() => {
      harness.poll();
      return harness.events.some((e) => e.kind === 'confirm' && e.seq === 7);
    });
    expect(harness.events.filter((e) => e.kind === 'reject')).toEqual([]);

    // A crash now: confirmed messages and the definition are there; the lost ones are not.
    let recovered: MessageStore | null = null;
    await SegmentedLog.open(memory.crashed(), {}, (reopened) => {
      recovered = new MessageStore(reopened);
      return recovered;
    });
    const store = recovered! as MessageStore;
    const view = new MessageBlockView();
    const bodies = store.claimRecovered(QUEUE_ID).map((copy) => {
      const block = copy.message.block!;
      view.read(block, 0, block.length);
      return block.toString('utf8', view.bodyStart, view.bodyEnd);
    });
    expect(bodies).toEqual(['kept-1', 'kept-2', 'kept-3', 'after-7']);
    expect([...store.definitions.values()].map((entry) => entry.record)).toEqual([definition]);
  });
});
