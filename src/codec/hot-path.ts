// Hand-written codecs for per-message frames: the method key at the start of a method frame,
// and basic.deliver, basic.ack and basic.nack frames encoded from arguments. They match the
// generated codecs byte for byte (the tests check) and allocate no method objects. Any thread.
// warren-perf's client reads method keys and writes acks with them; its tests and the
// micro-benchmark play the broker with the deliver and nack encoders.

import type { ByteWriter } from './byte-writer.js';
import {
  FRAME_END,
  FRAME_ERROR,
  FRAME_METHOD,
  FRAME_OVERHEAD_BYTES,
  INTERNAL_ERROR,
} from './constants.js';
import { ConnectionError } from './errors.js';
import { beginFrame, endFrame } from './frame-writer.js';
import { METHOD_BASIC_ACK, METHOD_BASIC_DELIVER, METHOD_BASIC_NACK } from './methods.js';

/**
 * The method key (class id << 16 | method id) at the start of a method frame payload, to pick a
 * hand-written path before falling back to decodeMethod. Throws FRAME_ERROR when too short.
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

/** Bytes of a basic.ack or basic.nack frame: header, method key, delivery tag, bits, frame end. */
const ACKNOWLEDGEMENT_FRAME_BYTES = 21;

/** basic.ack and basic.nack frames share one layout; only the method key and the bits differ. */
function encodeAcknowledgementFrame(
  writer: ByteWriter,
  channel: number,
  methodKey: number,
  deliveryTag: number,
  bits: number,
): void {
  checkDeliveryTag(deliveryTag);
  writer.ensure(ACKNOWLEDGEMENT_FRAME_BYTES);
  writer.u8(FRAME_METHOD);
  writer.u16(channel);
  writer.u32(ACKNOWLEDGEMENT_FRAME_BYTES - FRAME_OVERHEAD_BYTES);
  writer.u32(methodKey);
  writer.u64(deliveryTag);
  writer.u8(bits);
  writer.u8(FRAME_END);
}

/** Writes a whole basic.ack frame, as publisher confirms send it. */
export function encodeBasicAckFrame(
  writer: ByteWriter,
  channel: number,
  deliveryTag: number,
  isMultiple: boolean,
): void {
  encodeAcknowledgementFrame(writer, channel, METHOD_BASIC_ACK, deliveryTag, isMultiple ? 1 : 0);
}

/** Writes a whole basic.nack frame, as publisher confirms send it. */
export function encodeBasicNackFrame(
  writer: ByteWriter,
  channel: number,
  deliveryTag: number,
  isMultiple: boolean,
  isRequeue: boolean,
): void {
  const bits = (isMultiple ? 1 : 0) | (isRequeue ? 2 : 0);
  encodeAcknowledgementFrame(writer, channel, METHOD_BASIC_NACK, deliveryTag, bits);
}
