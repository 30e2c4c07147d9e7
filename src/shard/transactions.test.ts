// A committed transaction's record: its nested publishes and settles are applied in order, the
// messages they log go into one transaction record (begun before the first, committed after the
// last), and the answer waits for that record; a record of another type, or a size that does
// not add up, is a bug that crashes.

import { describe, expect, it } from 'vitest';
import {
  CMD_CONTROL,
  CMD_PUBLISH,
  CMD_SETTLE,
  TRANSACTION_HEADER_BYTES,
  TRANSACTION_NESTED_HEADER_BYTES,
  writeNestedHeader,
  writeTransactionHeader,
} from './records.js';
import { StoredMessage } from './stored-message.js';
import {
  type DurabilityWaits,
  type TransactionLog,
  type TransactionParts,
  type TransactionReplies,
  Transactions,
} from './transactions.js';

class FakeLog implements TransactionLog {
  constructor(private readonly calls: string[]) {}
  beginTransaction(): void {
    this.calls.push('log.begin');
  }
  commitTransaction(messages: readonly StoredMessage[]): number {
    this.calls.push(`commit ${messages.length}`);
    return 41;
  }
}

/** Records every call, in order, across the fakes. */
class Fakes implements TransactionParts, DurabilityWaits, TransactionReplies {
  readonly calls: string[] = [];
  readonly log = new FakeLog(this.calls);
  private logged: StoredMessage[] = [];

  beginTransaction(): void {
    this.calls.push('parts.begin');
  }
  publish(bytes: Buffer, start: number, end: number): void {
    const text = bytes.toString('utf8', start, end);
    this.calls.push(`publish ${text}`);
    this.logged.push(new StoredMessage(Buffer.from(text)));
  }
  settle(bytes: Buffer, start: number): void {
    this.calls.push(`settle ${bytes[start]}`);
  }
  endTransaction(): StoredMessage[] {
    const messages = this.logged;
    this.logged = [];
    this.calls.push(`end ${messages.length}`);
    return messages;
  }
  awaitDurability(message: StoredMessage): void {
    this.calls.push(`await ${message.block!.toString()} at ${message.appendSeq}`);
  }
  replyWhenDurable(requestId: number, needSeq: number, value: number, isTransaction: boolean) {
    this.calls.push(`reply ${requestId} after ${needSeq} ${value} ${isTransaction}`);
  }
}

/** A CMD_TRANSACTION payload of nested [type, payload] records. */
function transaction(requestId: number, nested: [number, Buffer][]): Buffer {
  let size = TRANSACTION_HEADER_BYTES;
  for (const [, payload] of nested) size += TRANSACTION_NESTED_HEADER_BYTES + payload.length;
  const bytes = Buffer.alloc(size);
  let at = writeTransactionHeader(bytes, 0, requestId, nested.length);
  for (const [type, payload] of nested)
    at =
      writeNestedHeader(bytes, at, type, payload.length) +
      payload.copy(bytes, at + TRANSACTION_NESTED_HEADER_BYTES);
  return bytes;
}

describe('transactions', () => {
  it('applies nested records in order inside one log transaction, answered once durable', () => {
    const fakes = new Fakes();
    const record = transaction(7, [
      [CMD_PUBLISH, Buffer.from('a')],
      [CMD_SETTLE, Buffer.from([3])],
      [CMD_PUBLISH, Buffer.from('bc')],
    ]);
    new Transactions(fakes, fakes.log, fakes, fakes).apply(record, 0, record.length);
    expect(fakes.calls).toEqual([
      'log.begin',
      'parts.begin',
      'publish a',
      'settle 3',
      'publish bc',
      'end 2',
      'commit 2',
      'await a at 41',
      'await bc at 41',
      'reply 7 after 41 0 true',
    ]);
  });

  it('without a log, answers at once', () => {
    const fakes = new Fakes();
    const record = transaction(8, [[CMD_PUBLISH, Buffer.from('a')]]);
    new Transactions(fakes, null, fakes, fakes).apply(record, 0, record.length);
    expect(fakes.calls.at(-1)).toBe('reply 8 after 0 0 true');
    expect(fakes.calls).not.toContain('commit 1');
  });

  it('crashes on a nested record of another type, or sizes that do not add up', () => {
    const fakes = new Fakes();
    const transactions = new Transactions(fakes, fakes.log, fakes, fakes);
    const bad = transaction(9, [[CMD_CONTROL, Buffer.from('x')]]);
    expect(() => transactions.apply(bad, 0, bad.length)).toThrow(/bad record/);
    const short = transaction(9, [[CMD_PUBLISH, Buffer.from('x')]]);
    expect(() =>
      transactions.apply(Buffer.concat([short, Buffer.alloc(1)]), 0, short.length + 1),
    ).toThrow(/transaction record size/);
  });
});
