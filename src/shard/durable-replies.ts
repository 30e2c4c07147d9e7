// Control replies that must wait until a log append is durable (committed transactions, durable
// definitions), in the order they were asked. Shard thread only. Invariant: needSeq does not
// decrease along the list (appends are numbered in order), so each drain answers a prefix.

import type { ReplySink } from './shard-events.js';

const PRECONDITION_FAILED = 406;

/** The log as the replies see it: how far it is durable, and a way to ask for a sync. */
export interface DurableLog {
  readonly durableSeq: number;
  requestSync(): void;
}

/** A control reply that must wait until a log append is durable. */
interface DurableReply {
  requestId: number;
  needSeq: number;
  value: number;
  /** A transaction fails when its record is lost; a definition is written again and waits. */
  isTransaction: boolean;
}

/**
 * A committed transaction whose record the log lost closes its channel the way RabbitMQ closes
 * one when a queue refused part of a transaction (rabbit_channel:complete_tx): 406, a soft
 * error, so the connection and its other channels live on. The reason follows RabbitMQ's text.
 */
export function transactionLostText(error: Error): string {
  return `partial tx completion: the log could not store the transaction (${error.message})`;
}

export class DurableReplies {
  private readonly replies: DurableReply[] = [];
  private readonly sink: ReplySink;
  /** null runs the shard in memory only: everything is durable at once. */
  private readonly log: DurableLog | null;

  constructor(sink: ReplySink, log: DurableLog | null) {
    this.sink = sink;
    this.log = log;
  }

  get length(): number {
    return this.replies.length;
  }

  /** Answers `requestId` with `value` once log append `needSeq` is durable (now if it is). */
  replyWhenDurable(
    requestId: number,
    needSeq: number,
    value: number,
    isTransaction: boolean,
  ): void {
    if (this.log === null || needSeq <= this.log.durableSeq) {
      this.sink.reply(requestId, 0, value);
      return;
    }
    this.replies.push({ requestId, needSeq, value, isTransaction });
    this.log.requestSync();
  }

  /** The log made appends up to `durableSeq` durable: answers what waited for them. */
  drain(durableSeq: number): void {
    const replies = this.replies;
    while (replies.length > 0 && replies[0]!.needSeq <= durableSeq) {
      const reply = replies.shift()!;
      this.sink.reply(reply.requestId, 0, reply.value);
    }
  }

  /**
   * The log lost every append after `durableSeq` with `error`: waiting transactions fail (406);
   * waiting definitions, written again up to `rewrittenSeq`, wait for that instead.
   */
  fail(durableSeq: number, rewrittenSeq: number, error: Error): void {
    const replies = this.replies;
    let kept = 0;
    for (const reply of replies) {
      if (reply.isTransaction) {
        this.sink.reply(reply.requestId, PRECONDITION_FAILED, 0, transactionLostText(error));
        continue;
      }
      if (reply.needSeq > durableSeq) reply.needSeq = rewrittenSeq;
      replies[kept++] = reply;
    }
    replies.length = kept;
  }
}
