// Every ring record written by its records.ts writer and read back by its readers, at an odd
// start inside a larger buffer (offsets are relative to the record), including a transaction's
// nested records: what a writer puts where is what the readers take from there.

import { describe, expect, it } from 'vitest';
import {
  CMD_PUBLISH,
  CMD_SETTLE,
  CONFIRM_BYTES,
  CONNECTION_FLOW_BYTES,
  CONTROL_HEADER_BYTES,
  controlRequestStart,
  CREDIT_BYTES,
  DEAD_LETTER_MAXLEN,
  deadLetterBlockStart,
  deadLetterVhostStart,
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  DELIVER_HEADER_BYTES,
  deliverBlockStart,
  GET_OK_HEADER_BYTES,
  getOkBlockStart,
  MessageBlockView,
  messageBlockBytes,
  nestedPayloadStart,
  PUBLISH_FLAG_CONFIRM,
  PUBLISH_FLAG_PERSISTENT,
  publishBlockStart,
  OutgoingPublish,
  publishRecordBytes,
  readChannelId,
  readConfirmSeq,
  readConnectionFlowIsPaused,
  readConnectionId,
  readControlRequestId,
  readCreditAmount,
  readDeadLetterFlags,
  readDeadLetterReason,
  readDeliverConsumerId,
  readDeliverDeliveryId,
  readDeliverFlags,
  readGetOkDeliveryId,
  readGetOkIsRedelivered,
  readGetOkMessageCount,
  readGetOkRequestId,
  readNestedBytes,
  readNestedType,
  readPublishConfirmSeq,
  readPublishFlags,
  readPublishQueueCount,
  readPublishQueueId,
  readReplyCode,
  readReplyRequestId,
  readReplyText,
  readReplyValue,
  readSettleAction,
  readSettleCount,
  readSettleDeliveryId,
  readTransactionCount,
  readTransactionRequestId,
  REPLY_HEADER_BYTES,
  SETTLE_REQUEUE,
  settleRecordBytes,
  TRANSACTION_HEADER_BYTES,
  TRANSACTION_NESTED_HEADER_BYTES,
  transactionFirstNested,
  writeConfirmRecord,
  writeConnectionFlowRecord,
  writeControlHeader,
  writeCreditRecord,
  writeDeadLetterHeader,
  writeDeliverHeader,
  writeGetOkHeader,
  writeNestedHeader,
  writePublishRecord,
  writeReplyHeader,
  writeSettleRecord,
  writeTransactionHeader,
} from './records.js';

/** Records are written at this odd offset into a bigger buffer full of 0xee. */
const START = 13;
const CONNECTION_ID = 0xfedc_ba98;
const CHANNEL_ID = 0xfffe;

function scratch(bytes: number): Buffer {
  return Buffer.alloc(START + bytes + 16, 0xee);
}

/** A message block: exchange, routing key, properties, body. */
function block(): Buffer {
  const parts = ['amq.direct', 'key.é', '\x80\x00', 'the body'].map((part) => Buffer.from(part));
  const bytes = Buffer.alloc(
    messageBlockBytes(parts[0]!.length, parts[1]!.length, parts[2]!.length, parts[3]!.length),
  );
  let at = 0;
  bytes[at++] = parts[0]!.length;
  at += parts[0]!.copy(bytes, at);
  bytes[at++] = parts[1]!.length;
  at += parts[1]!.copy(bytes, at);
  bytes.writeUInt32LE(parts[2]!.length, at);
  at += 4;
  at += parts[2]!.copy(bytes, at);
  parts[3]!.copy(bytes, at);
  return bytes;
}

function blockParts(bytes: Buffer, start: number, end: number): string[] {
  const view = new MessageBlockView().read(bytes, start, end);
  return [
    bytes.toString('latin1', view.exchangeStart, view.exchangeEnd),
    bytes.toString('utf8', view.routingKeyStart, view.routingKeyEnd),
    bytes.toString('latin1', view.propertiesStart, view.propertiesEnd),
    bytes.toString('utf8', view.bodyStart, view.bodyEnd),
  ];
}

/** Writes a publish of block() to queues `queueIds` at `start`; returns its end. */
function writePublish(target: Buffer, start: number, queueIds: number[], seq: number): number {
  const message = block();
  const view = new MessageBlockView().read(message, 0, message.length);
  const head = message.subarray(0, view.propertiesStart - 4);
  const properties = message.subarray(view.propertiesStart, view.propertiesEnd);
  const publish = new OutgoingPublish().setMessage(
    head,
    head.length,
    properties,
    properties.length,
    message,
    view.bodyStart,
    view.bodyEnd,
  );
  publish.connectionId = CONNECTION_ID;
  publish.channelId = CHANNEL_ID;
  publish.flags = PUBLISH_FLAG_CONFIRM | PUBLISH_FLAG_PERSISTENT;
  publish.confirmSeq = seq;
  return writePublishRecord(target, start, publish, Uint32Array.from(queueIds), queueIds.length);
}

function publishBytes(queueCount: number): number {
  const message = block();
  const view = new MessageBlockView().read(message, 0, message.length);
  const publish = new OutgoingPublish().setMessage(
    message,
    view.propertiesStart - 4,
    message,
    view.propertiesEnd - view.propertiesStart,
    message,
    view.bodyStart,
    view.bodyEnd,
  );
  return publishRecordBytes(publish, queueCount);
}

describe('ring records', () => {
  it('CMD_PUBLISH', () => {
    const size = publishBytes(3);
    const bytes = scratch(size);
    const end = writePublish(bytes, START, [7, 0xffff_fff0, 1], 2 ** 40 + 3);
    expect(end).toBe(START + size);
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readChannelId(bytes, START)).toBe(CHANNEL_ID);
    expect(readPublishFlags(bytes, START)).toBe(PUBLISH_FLAG_CONFIRM | PUBLISH_FLAG_PERSISTENT);
    expect(readPublishConfirmSeq(bytes, START)).toBe(2 ** 40 + 3);
    expect(readPublishQueueCount(bytes, START)).toBe(3);
    expect([0, 1, 2].map((i) => readPublishQueueId(bytes, START, i))).toEqual([7, 0xffff_fff0, 1]);
    expect(blockParts(bytes, publishBlockStart(START, 3), end)).toEqual(
      blockParts(block(), 0, block().length),
    );
    expect(bytes[end]).toBe(0xee);
  });

  it('CMD_SETTLE', () => {
    const ids = Float64Array.of(1, 2 ** 50, 77);
    const bytes = scratch(settleRecordBytes(3));
    const end = writeSettleRecord(bytes, START, CONNECTION_ID, CHANNEL_ID, SETTLE_REQUEUE, ids, 3);
    expect(end).toBe(START + settleRecordBytes(3));
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readChannelId(bytes, START)).toBe(CHANNEL_ID);
    expect(readSettleAction(bytes, START)).toBe(SETTLE_REQUEUE);
    expect(readSettleCount(bytes, START)).toBe(3);
    expect([0, 1, 2].map((i) => readSettleDeliveryId(bytes, START, i))).toEqual([...ids]);
  });

  it('CMD_CONTROL header', () => {
    const bytes = scratch(CONTROL_HEADER_BYTES + 3);
    const payloadStart = writeControlHeader(bytes, START, 0xabcd_ef01);
    expect(payloadStart).toBe(controlRequestStart(START));
    expect(payloadStart).toBe(START + CONTROL_HEADER_BYTES);
    expect(readControlRequestId(bytes, START)).toBe(0xabcd_ef01);
  });

  it('CMD_CONNECTION_FLOW', () => {
    const bytes = scratch(CONNECTION_FLOW_BYTES);
    expect(writeConnectionFlowRecord(bytes, START, CONNECTION_ID, true)).toBe(
      START + CONNECTION_FLOW_BYTES,
    );
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readConnectionFlowIsPaused(bytes, START)).toBe(true);
    writeConnectionFlowRecord(bytes, START, CONNECTION_ID, false);
    expect(readConnectionFlowIsPaused(bytes, START)).toBe(false);
  });

  it('CMD_CREDIT and EVT_CREDIT', () => {
    const bytes = scratch(CREDIT_BYTES);
    expect(writeCreditRecord(bytes, START, CONNECTION_ID, CHANNEL_ID, 0xffff_ffff)).toBe(
      START + CREDIT_BYTES,
    );
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readChannelId(bytes, START)).toBe(CHANNEL_ID);
    expect(readCreditAmount(bytes, START)).toBe(0xffff_ffff);
  });

  it('CMD_TRANSACTION with nested publish and settle records', () => {
    const publishSize = publishBytes(2);
    const settleSize = settleRecordBytes(2);
    const size =
      TRANSACTION_HEADER_BYTES + 2 * TRANSACTION_NESTED_HEADER_BYTES + publishSize + settleSize;
    const bytes = scratch(size);
    let at = writeTransactionHeader(bytes, START, 99, 2);
    let payload = writeNestedHeader(bytes, at, CMD_PUBLISH, publishSize);
    at = writePublish(bytes, payload, [4, 5], 11);
    payload = writeNestedHeader(bytes, at, CMD_SETTLE, settleSize);
    at = writeSettleRecord(bytes, payload, 1, 2, SETTLE_REQUEUE, Float64Array.of(8, 9), 2);
    expect(at).toBe(START + size);

    expect(readTransactionRequestId(bytes, START)).toBe(99);
    expect(readTransactionCount(bytes, START)).toBe(2);
    const nested: [number, number, number][] = [];
    let read = transactionFirstNested(START);
    for (let i = 0; i < readTransactionCount(bytes, START); i++) {
      const start = nestedPayloadStart(read);
      nested.push([readNestedType(bytes, read), start, readNestedBytes(bytes, read)]);
      read = start + readNestedBytes(bytes, read);
    }
    expect(read).toBe(START + size);
    const [publish, settle] = nested;
    expect(publish![0]).toBe(CMD_PUBLISH);
    expect(publish![2]).toBe(publishSize);
    expect(readPublishQueueId(bytes, publish![1], 1)).toBe(5);
    expect(readPublishConfirmSeq(bytes, publish![1])).toBe(11);
    expect(blockParts(bytes, publishBlockStart(publish![1], 2), publish![1] + publish![2])).toEqual(
      blockParts(block(), 0, block().length),
    );
    expect(settle![0]).toBe(CMD_SETTLE);
    expect(settle![2]).toBe(settleSize);
    expect(readSettleDeliveryId(bytes, settle![1], 1)).toBe(9);
  });

  it('EVT_DELIVER', () => {
    const message = block();
    const bytes = scratch(DELIVER_HEADER_BYTES + message.length);
    const flags = DELIVER_FLAG_REDELIVERED | DELIVER_FLAG_USED_CREDIT;
    const blockStart = writeDeliverHeader(
      bytes,
      START,
      CONNECTION_ID,
      CHANNEL_ID,
      0x8000_0001,
      2 ** 52 - 1,
      flags,
    );
    expect(blockStart).toBe(deliverBlockStart(START));
    message.copy(bytes, blockStart);
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readChannelId(bytes, START)).toBe(CHANNEL_ID);
    expect(readDeliverConsumerId(bytes, START)).toBe(0x8000_0001);
    expect(readDeliverDeliveryId(bytes, START)).toBe(2 ** 52 - 1);
    expect(readDeliverFlags(bytes, START)).toBe(flags);
    expect(blockParts(bytes, blockStart, blockStart + message.length)).toEqual(
      blockParts(message, 0, message.length),
    );
  });

  it('EVT_GET_OK', () => {
    const bytes = scratch(GET_OK_HEADER_BYTES);
    const blockStart = writeGetOkHeader(bytes, START, 0x1234_5678, 2 ** 33, true, 0xffff_ffff);
    expect(blockStart).toBe(getOkBlockStart(START));
    expect(blockStart).toBe(START + GET_OK_HEADER_BYTES);
    expect(readGetOkRequestId(bytes, START)).toBe(0x1234_5678);
    expect(readGetOkDeliveryId(bytes, START)).toBe(2 ** 33);
    expect(readGetOkIsRedelivered(bytes, START)).toBe(true);
    expect(readGetOkMessageCount(bytes, START)).toBe(0xffff_ffff);
    writeGetOkHeader(bytes, START, 1, 1, false, 0);
    expect(readGetOkIsRedelivered(bytes, START)).toBe(false);
  });

  it('EVT_CONFIRM and EVT_REJECT', () => {
    const bytes = scratch(CONFIRM_BYTES);
    expect(writeConfirmRecord(bytes, START, CONNECTION_ID, CHANNEL_ID, 2 ** 45 + 1)).toBe(
      START + CONFIRM_BYTES,
    );
    expect(readConnectionId(bytes, START)).toBe(CONNECTION_ID);
    expect(readChannelId(bytes, START)).toBe(CHANNEL_ID);
    expect(readConfirmSeq(bytes, START)).toBe(2 ** 45 + 1);
  });

  it('EVT_REPLY, with and without text', () => {
    const text = Buffer.from("queue 'q' in vhost 'é' not empty");
    const bytes = scratch(REPLY_HEADER_BYTES + text.length);
    const textStart = writeReplyHeader(bytes, START, 42, 406, 2 ** 35);
    const end = textStart + text.copy(bytes, textStart);
    expect(readReplyRequestId(bytes, START)).toBe(42);
    expect(readReplyCode(bytes, START)).toBe(406);
    expect(readReplyValue(bytes, START)).toBe(2 ** 35);
    expect(readReplyText(bytes, START, end)).toBe(text.toString());
    expect(readReplyText(bytes, START, textStart)).toBe('');
  });

  it('EVT_DEAD_LETTER', () => {
    const message = block();
    const vhost = 'vhøst/1';
    const vhostBytes = Buffer.byteLength(vhost);
    const bytes = scratch(3 + vhostBytes + message.length);
    const blockStart = writeDeadLetterHeader(
      bytes,
      START,
      DEAD_LETTER_MAXLEN,
      PUBLISH_FLAG_PERSISTENT,
      vhost,
      vhostBytes,
    );
    message.copy(bytes, blockStart);
    expect(readDeadLetterReason(bytes, START)).toBe(DEAD_LETTER_MAXLEN);
    expect(readDeadLetterFlags(bytes, START)).toBe(PUBLISH_FLAG_PERSISTENT);
    expect(deadLetterBlockStart(bytes, START)).toBe(blockStart);
    expect(bytes.toString('utf8', deadLetterVhostStart(START), blockStart)).toBe(vhost);
    expect(blockParts(bytes, blockStart, blockStart + message.length)).toEqual(
      blockParts(message, 0, message.length),
    );
  });
});
