// Hand-written codecs for the per-message methods: basic.publish and the acknowledgements in,
// basic.deliver and publisher confirms out. They match the generated codecs byte for byte (the
// tests check) but decode into caller-owned objects and encode from arguments, so the message
// path allocates no method objects. Net thread; one set of target objects per connection.

import { ByteReader } from './byte-reader.js';
import type { ByteWriter } from './byte-writer.js';
import { FRAME_END, FRAME_ERROR, FRAME_METHOD, INTERNAL_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';
import { beginFrame, endFrame } from './frame-writer.js';
import {
  METHOD_BASIC_ACK,
  METHOD_BASIC_DELIVER,
  METHOD_BASIC_NACK,
  METHOD_BASIC_PUBLISH,
  METHOD_BASIC_REJECT,
} from './methods.js';

const sharedReader = new ByteReader();

/**
 * The method key (class id << 16 | method id) at the start of a method frame payload, to pick a
 * hand-written decoder before falling back to decodeMethod. Throws FRAME_ERROR when too short.
 */
export function readMethodKey(buf: Buffer, start: number, end: number): number {
  if (end - start < 4) {
    throw new ConnectionError(
      FRAME_ERROR,
      `FRAME_ERROR - method frame payload of ${end - start} bytes has no class and method id`,
    );
  }
  return (
    buf[start]! * 0x100_0000 + ((buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!)
  );
}

/** Reusable target for {@link decodeBasicPublishInto}. */
export class BasicPublishFields {
  exchange = '';
  routingKey = '';
  isMandatory = false;
  isImmediate = false;
}

/**
 * Decodes a basic.publish payload (method key included) into `into`. Same checks and errors as
 * decodeMethod; the caller has already read the key with {@link readMethodKey}.
 */
export function decodeBasicPublishInto(
  buf: Buffer,
  start: number,
  end: number,
  into: BasicPublishFields,
  reader: ByteReader = sharedReader,
): BasicPublishFields {
  reader.reset(buf, start, end);
  reader.setContext('basic.publish', 60, 40);
  if (reader.u32() !== METHOD_BASIC_PUBLISH) reader.malformed('not a basic.publish payload');
  reader.skip(2);
  into.exchange = reader.shortString();
  into.routingKey = reader.shortString();
  const bits = reader.u8();
  into.isMandatory = (bits & 1) !== 0;
  into.isImmediate = (bits & 2) !== 0;
  reader.expectEnd();
  return into;
}

/** Reusable target for {@link decodeAcknowledgementInto}. */
export class AcknowledgementFields {
  kind: 'ack' | 'nack' | 'reject' = 'ack';
  /** Exact up to 2^53 - 1; larger client values round and so match no delivery. */
  deliveryTag = 0;
  isMultiple = false;
  /** Always false for ack. */
  isRequeue = false;
}

/** Decodes basic.ack, basic.nack or basic.reject (method key included) into `into`. */
export function decodeAcknowledgementInto(
  buf: Buffer,
  start: number,
  end: number,
  into: AcknowledgementFields,
  reader: ByteReader = sharedReader,
): AcknowledgementFields {
  reader.reset(buf, start, end);
  const key = readMethodKey(buf, start, end);
  reader.skip(4);
  switch (key) {
    case METHOD_BASIC_ACK: {
      reader.setContext('basic.ack', 60, 80);
      into.kind = 'ack';
      into.deliveryTag = reader.u64();
      into.isMultiple = (reader.u8() & 1) !== 0;
      into.isRequeue = false;
      break;
    }
    case METHOD_BASIC_NACK: {
      reader.setContext('basic.nack', 60, 120);
      into.kind = 'nack';
      into.deliveryTag = reader.u64();
      const bits = reader.u8();
      into.isMultiple = (bits & 1) !== 0;
      into.isRequeue = (bits & 2) !== 0;
      break;
    }
    case METHOD_BASIC_REJECT: {
      reader.setContext('basic.reject', 60, 90);
      into.kind = 'reject';
      into.deliveryTag = reader.u64();
      into.isMultiple = false;
      into.isRequeue = (reader.u8() & 1) !== 0;
      break;
    }
    default:
      reader.malformed('not a basic.ack, basic.nack or basic.reject payload');
  }
  reader.expectEnd();
  return into;
}

function checkDeliveryTag(deliveryTag: number): void {
  if (!Number.isSafeInteger(deliveryTag) || deliveryTag < 0) {
    throw new ConnectionError(
      INTERNAL_ERROR,
      `INTERNAL_ERROR - cannot encode delivery-tag ${deliveryTag}: not a safe non-negative integer`,
    );
  }
}

/** Writes a whole basic.deliver method frame; the header and body frames follow separately. */
export function encodeBasicDeliverFrame(
  writer: ByteWriter,
  channel: number,
  consumerTag: string,
  deliveryTag: number,
  isRedelivered: boolean,
  exchange: string,
  routingKey: string,
): void {
  checkDeliveryTag(deliveryTag);
  const frameStart = writer.position;
  const sizeAt = beginFrame(writer, FRAME_METHOD, channel);
  writer.u32(METHOD_BASIC_DELIVER);
  try {
    writer.shortString(consumerTag);
    writer.u64(deliveryTag);
    writer.u8(isRedelivered ? 1 : 0);
    writer.shortString(exchange);
    writer.shortString(routingKey);
  } catch (error) {
    writer.rewind(frameStart);
    throw error;
  }
  endFrame(writer, sizeAt);
}

/** Writes a whole basic.ack frame, as publisher confirms send it. */
export function encodeBasicAckFrame(
  writer: ByteWriter,
  channel: number,
  deliveryTag: number,
  isMultiple: boolean,
): void {
  checkDeliveryTag(deliveryTag);
  writer.ensure(21);
  writer.u8(FRAME_METHOD);
  writer.u16(channel);
  writer.u32(13);
  writer.u32(METHOD_BASIC_ACK);
  writer.u64(deliveryTag);
  writer.u8(isMultiple ? 1 : 0);
  writer.u8(FRAME_END);
}

/** Writes a whole basic.nack frame, as publisher confirms send it. */
export function encodeBasicNackFrame(
  writer: ByteWriter,
  channel: number,
  deliveryTag: number,
  isMultiple: boolean,
  isRequeue: boolean,
): void {
  checkDeliveryTag(deliveryTag);
  writer.ensure(21);
  writer.u8(FRAME_METHOD);
  writer.u16(channel);
  writer.u32(13);
  writer.u32(METHOD_BASIC_NACK);
  writer.u64(deliveryTag);
  writer.u8((isMultiple ? 1 : 0) | (isRequeue ? 2 : 0));
  writer.u8(FRAME_END);
}
