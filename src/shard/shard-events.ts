// The events a shard sends the network thread, written into its event ring through the records'
// writers. Shard thread only. Each method writes one whole record; nothing here decides what to
// send. The outbox stages records aside when the ring is full, so writing never fails.

import type { RingOutbox } from '../util/index.js';
import type { ConfirmSink } from './pending-confirms.js';
import {
  CONFIRM_BYTES,
  CREDIT_BYTES,
  DEAD_LETTER_HEADER_BYTES,
  DELIVER_HEADER_BYTES,
  EVT_CONFIRM,
  EVT_CREDIT,
  EVT_DEAD_LETTER,
  EVT_DELIVER,
  EVT_GET_OK,
  EVT_REJECT,
  EVT_REPLY,
  GET_OK_HEADER_BYTES,
  REJECT_BYTES,
  REPLY_HEADER_BYTES,
  writeConfirmRecord,
  writeCreditRecord,
  writeDeadLetterHeader,
  writeDeliverHeader,
  writeGetOkHeader,
  writeReplyHeader,
} from './records.js';

/** Where control replies go: one EVT_REPLY per request (requestId 0 wants none). */
export interface ReplySink {
  reply(requestId: number, replyCode: number, value: number, replyText?: string): void;
}

export class ShardEvents implements ConfirmSink, ReplySink {
  private readonly outbox: RingOutbox;
  private readonly replyTextBytes = Buffer.allocUnsafe(1024);

  constructor(outbox: RingOutbox) {
    this.outbox = outbox;
  }

  /** True while events wait outside the ring: make no more deliveries until it drains. */
  get isBlocked(): boolean {
    return this.outbox.isBlocked;
  }

  /** Wakes the network thread if events were written since the last wake. */
  flush(): void {
    this.outbox.flush();
  }

  /** ConfirmSink: publishes up to confirmSeq on a channel are settled. */
  confirm(connectionId: number, channelId: number, confirmSeq: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(CONFIRM_BYTES);
    const end = writeConfirmRecord(outbox.target, at, connectionId, channelId, confirmSeq);
    outbox.end(EVT_CONFIRM, at, end);
  }

  /** ConfirmSink: publish `confirmSeq` was refused or could not be stored. */
  reject(connectionId: number, channelId: number, confirmSeq: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(REJECT_BYTES);
    const end = writeConfirmRecord(outbox.target, at, connectionId, channelId, confirmSeq);
    outbox.end(EVT_REJECT, at, end);
  }

  reply(requestId: number, replyCode: number, value: number, replyText = ''): void {
    if (requestId === 0) return;
    const textBytes = this.replyTextBytes.write(replyText, 0, 'utf8');
    const outbox = this.outbox;
    const at = outbox.begin(REPLY_HEADER_BYTES + textBytes);
    const target = outbox.target;
    const textStart = writeReplyHeader(target, at, requestId, replyCode, value);
    this.replyTextBytes.copy(target, textStart, 0, textBytes);
    outbox.end(EVT_REPLY, at, textStart + textBytes);
  }

  deliver(
    connectionId: number,
    channelId: number,
    consumerId: number,
    deliveryId: number,
    flags: number,
    block: Buffer,
  ): void {
    const outbox = this.outbox;
    const at = outbox.begin(DELIVER_HEADER_BYTES + block.length);
    const target = outbox.target;
    const blockStart = writeDeliverHeader(
      target,
      at,
      connectionId,
      channelId,
      consumerId,
      deliveryId,
      flags,
    );
    block.copy(target, blockStart);
    outbox.end(EVT_DELIVER, at, blockStart + block.length);
  }

  getOk(
    requestId: number,
    deliveryId: number,
    isRedelivered: boolean,
    messageCount: number,
    block: Buffer,
  ): void {
    const outbox = this.outbox;
    const at = outbox.begin(GET_OK_HEADER_BYTES + block.length);
    const target = outbox.target;
    const blockStart = writeGetOkHeader(
      target,
      at,
      requestId,
      deliveryId,
      isRedelivered,
      messageCount,
    );
    block.copy(target, blockStart);
    outbox.end(EVT_GET_OK, at, blockStart + block.length);
  }

  /** 0 asks the network thread for credit; more gives unused credit back. */
  credit(connectionId: number, channelId: number, amount: number): void {
    const outbox = this.outbox;
    const at = outbox.begin(CREDIT_BYTES);
    const end = writeCreditRecord(outbox.target, at, connectionId, channelId, amount);
    outbox.end(EVT_CREDIT, at, end);
  }

  /** A dead-lettered message `block` (already carrying its x-death) from a queue of `vhost`. */
  deadLetter(reason: number, flags: number, vhost: string, block: Buffer): void {
    const vhostBytes = Buffer.byteLength(vhost);
    const outbox = this.outbox;
    const size = DEAD_LETTER_HEADER_BYTES + vhostBytes + block.length;
    const at = outbox.begin(size);
    const target = outbox.target;
    const blockStart = writeDeadLetterHeader(target, at, reason, flags, vhost, vhostBytes);
    block.copy(target, blockStart);
    outbox.end(EVT_DEAD_LETTER, at, at + size);
  }
}
