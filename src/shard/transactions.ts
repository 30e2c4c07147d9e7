// Committed transactions (tx.commit): a CMD_TRANSACTION payload's nested publishes and settles
// for this shard, applied in order and logged as one atomic log record, answered once that is
// durable. Shard thread only. Invariant: every message the transaction logs is held by its one
// transaction record, so a lost record loses all of them and a durable one keeps all of them.

import { assert } from '../util/index.js';
import type { StoredMessage } from './stored-message.js';
import {
  CMD_PUBLISH,
  CMD_SETTLE,
  nestedPayloadStart,
  readNestedBytes,
  readNestedType,
  readTransactionCount,
  readTransactionRequestId,
  transactionFirstNested,
} from './records.js';

/** Applies the nested records (the shard's publish path and its settle path). */
export interface TransactionParts {
  /** Starts collecting the messages publishes log, instead of logging each on its own. */
  beginTransaction(): void;
  publish(bytes: Buffer, start: number, end: number): void;
  settle(bytes: Buffer, start: number): void;
  /** The messages logged since beginTransaction(). */
  endTransaction(): StoredMessage[];
}

/** The log side: one record for the whole transaction; null runs the shard in memory only. */
export interface TransactionLog {
  beginTransaction(): void;
  /** Writes the transaction record; returns its append sequence number. */
  commitTransaction(messages: readonly StoredMessage[]): number;
}

/** Where logged messages wait until their record is durable (the shard's message memory). */
export interface DurabilityWaits {
  awaitDurability(message: StoredMessage): void;
}

/** Where the transaction's answer waits for its record (the shard's durable replies). */
export interface TransactionReplies {
  replyWhenDurable(requestId: number, needSeq: number, value: number, isTransaction: boolean): void;
}

export class Transactions {
  private readonly parts: TransactionParts;
  private readonly log: TransactionLog | null;
  private readonly waits: DurabilityWaits;
  private readonly replies: TransactionReplies;

  constructor(
    parts: TransactionParts,
    log: TransactionLog | null,
    waits: DurabilityWaits,
    replies: TransactionReplies,
  ) {
    this.parts = parts;
    this.log = log;
    this.waits = waits;
    this.replies = replies;
  }

  /** Applies the CMD_TRANSACTION payload in `bytes[start..end)`. */
  apply(bytes: Buffer, start: number, end: number): void {
    const requestId = readTransactionRequestId(bytes, start);
    const count = readTransactionCount(bytes, start);
    const log = this.log;
    const parts = this.parts;
    log?.beginTransaction();
    parts.beginTransaction();
    let at = transactionFirstNested(start);
    for (let i = 0; i < count; i++) {
      const type = readNestedType(bytes, at);
      const nestedStart = nestedPayloadStart(at);
      const nestedEnd = nestedStart + readNestedBytes(bytes, at);
      if (type === CMD_PUBLISH) parts.publish(bytes, nestedStart, nestedEnd);
      else if (type === CMD_SETTLE) parts.settle(bytes, nestedStart);
      else assert(false, `bad record ${type} in a transaction`);
      at = nestedEnd;
    }
    assert(at === end, 'transaction record size');
    const messages = parts.endTransaction();
    if (log === null) {
      this.replies.replyWhenDurable(requestId, 0, 0, true);
      return;
    }
    const needSeq = log.commitTransaction(messages);
    for (const message of messages) {
      // Held in the log by the transaction record: lost with it if it is.
      message.appendSeq = needSeq;
      this.waits.awaitDurability(message);
    }
    this.replies.replyWhenDurable(requestId, needSeq, 0, true);
  }
}
