// Basic content properties and content header frames. Messages keep their properties as the raw
// bytes the publisher sent (flags word, then fields); the raw readers here pull one property out
// of those bytes by stepping over the earlier fields, so the per-message path never decodes the
// rest. Any thread. Every length is checked before use: malformed properties throw
// ConnectionError(FRAME_ERROR). Like RabbitMQ (decode_properties), the two low flag bits are
// ignored: basic has 14 properties, so no continuation flags word can follow.

import { ByteReader } from './byte-reader.js';
import type { ByteWriter } from './byte-writer.js';
import {
  FRAME_END,
  FRAME_ERROR,
  FRAME_HEADER,
  INTERNAL_ERROR,
  UNEXPECTED_FRAME,
} from './constants.js';
import { ConnectionError } from './errors.js';
import type { FieldTable } from './field-table.js';
import { beginFrame, endFrame } from './frame-writer.js';

/** The properties of class basic, the only content class. Absent properties are omitted. */
export interface BasicProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  /** Seconds since the Unix epoch; exact up to 2^53 - 1, rounded above. */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  /** The spec's reserved final property, called cluster-id by RabbitMQ and every client. */
  clusterId?: string;
}

// Property flags, in wire order from the most significant bit.
export const PROPERTY_FLAG_CONTENT_TYPE = 0x8000;
export const PROPERTY_FLAG_CONTENT_ENCODING = 0x4000;
export const PROPERTY_FLAG_HEADERS = 0x2000;
export const PROPERTY_FLAG_DELIVERY_MODE = 0x1000;
export const PROPERTY_FLAG_PRIORITY = 0x0800;
export const PROPERTY_FLAG_CORRELATION_ID = 0x0400;
export const PROPERTY_FLAG_REPLY_TO = 0x0200;
export const PROPERTY_FLAG_EXPIRATION = 0x0100;
export const PROPERTY_FLAG_MESSAGE_ID = 0x0080;
export const PROPERTY_FLAG_TIMESTAMP = 0x0040;
export const PROPERTY_FLAG_TYPE = 0x0020;
export const PROPERTY_FLAG_USER_ID = 0x0010;
export const PROPERTY_FLAG_APP_ID = 0x0008;
export const PROPERTY_FLAG_CLUSTER_ID = 0x0004;

/** Bytes of a content header payload before the properties: class, weight, body size. */
export const CONTENT_HEADER_FIXED_BYTES = 12;

const KIND_SHORT_STRING = 0;
const KIND_TABLE = 1;
const KIND_OCTET = 2;
const KIND_TIMESTAMP = 3;
// The wire kind of each property, indexed by its position (0 = content-type, flag 0x8000).
const PROPERTY_KINDS = [
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_TABLE,
  KIND_OCTET,
  KIND_OCTET,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_TIMESTAMP,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
  KIND_SHORT_STRING,
] as const;

const sharedReader = new ByteReader();

// ---------------------------------------------------------------------------------------------
// Whole property sets

/** Writes the property flags word and then each present property. */
export function encodeProperties(writer: ByteWriter, properties: BasicProperties): void {
  let flags = 0;
  if (properties.contentType !== undefined) flags |= PROPERTY_FLAG_CONTENT_TYPE;
  if (properties.contentEncoding !== undefined) flags |= PROPERTY_FLAG_CONTENT_ENCODING;
  if (properties.headers !== undefined) flags |= PROPERTY_FLAG_HEADERS;
  if (properties.deliveryMode !== undefined) flags |= PROPERTY_FLAG_DELIVERY_MODE;
  if (properties.priority !== undefined) flags |= PROPERTY_FLAG_PRIORITY;
  if (properties.correlationId !== undefined) flags |= PROPERTY_FLAG_CORRELATION_ID;
  if (properties.replyTo !== undefined) flags |= PROPERTY_FLAG_REPLY_TO;
  if (properties.expiration !== undefined) flags |= PROPERTY_FLAG_EXPIRATION;
  if (properties.messageId !== undefined) flags |= PROPERTY_FLAG_MESSAGE_ID;
  if (properties.timestamp !== undefined) flags |= PROPERTY_FLAG_TIMESTAMP;
  if (properties.type !== undefined) flags |= PROPERTY_FLAG_TYPE;
  if (properties.userId !== undefined) flags |= PROPERTY_FLAG_USER_ID;
  if (properties.appId !== undefined) flags |= PROPERTY_FLAG_APP_ID;
  if (properties.clusterId !== undefined) flags |= PROPERTY_FLAG_CLUSTER_ID;
  writer.u16(flags);
  if (properties.contentType !== undefined) writer.shortString(properties.contentType);
  if (properties.contentEncoding !== undefined) writer.shortString(properties.contentEncoding);
  if (properties.headers !== undefined) writer.table(properties.headers);
  if (properties.deliveryMode !== undefined) writer.u8(properties.deliveryMode);
  if (properties.priority !== undefined) writer.u8(properties.priority);
  if (properties.correlationId !== undefined) writer.shortString(properties.correlationId);
  if (properties.replyTo !== undefined) writer.shortString(properties.replyTo);
  if (properties.expiration !== undefined) writer.shortString(properties.expiration);
  if (properties.messageId !== undefined) writer.shortString(properties.messageId);
  if (properties.timestamp !== undefined) {
    if (!Number.isSafeInteger(properties.timestamp) || properties.timestamp < 0) {
      throw new ConnectionError(
        INTERNAL_ERROR,
        `INTERNAL_ERROR - cannot encode timestamp property ${properties.timestamp}`,
      );
    }
    writer.u64(properties.timestamp);
  }
  if (properties.type !== undefined) writer.shortString(properties.type);
  if (properties.userId !== undefined) writer.shortString(properties.userId);
  if (properties.appId !== undefined) writer.shortString(properties.appId);
  if (properties.clusterId !== undefined) writer.shortString(properties.clusterId);
}

/**
 * Decodes encoded properties (flags word and fields) that fill exactly `buf[start, end)`. With
 * `isLossless`, headers decode so that encoding them again gives back the same bytes.
 */
export function decodeProperties(
  buf: Buffer,
  start: number,
  end: number,
  reader: ByteReader = sharedReader,
  isLossless = false,
): BasicProperties {
  reader.reset(buf, start, end);
  reader.setContext('basic properties');
  const flags = reader.u16();
  const properties: BasicProperties = {};
  if (flags & PROPERTY_FLAG_CONTENT_TYPE) properties.contentType = reader.shortString();
  if (flags & PROPERTY_FLAG_CONTENT_ENCODING) properties.contentEncoding = reader.shortString();
  if (flags & PROPERTY_FLAG_HEADERS)
    properties.headers = isLossless ? reader.tableLossless() : reader.table();
  if (flags & PROPERTY_FLAG_DELIVERY_MODE) properties.deliveryMode = reader.u8();
  if (flags & PROPERTY_FLAG_PRIORITY) properties.priority = reader.u8();
  if (flags & PROPERTY_FLAG_CORRELATION_ID) properties.correlationId = reader.shortString();
  if (flags & PROPERTY_FLAG_REPLY_TO) properties.replyTo = reader.shortString();
  if (flags & PROPERTY_FLAG_EXPIRATION) properties.expiration = reader.shortString();
  if (flags & PROPERTY_FLAG_MESSAGE_ID) properties.messageId = reader.shortString();
  if (flags & PROPERTY_FLAG_TIMESTAMP) properties.timestamp = reader.u64();
  if (flags & PROPERTY_FLAG_TYPE) properties.type = reader.shortString();
  if (flags & PROPERTY_FLAG_USER_ID) properties.userId = reader.shortString();
  if (flags & PROPERTY_FLAG_APP_ID) properties.appId = reader.shortString();
  if (flags & PROPERTY_FLAG_CLUSTER_ID) properties.clusterId = reader.shortString();
  reader.expectEnd();
  return properties;
}

/**
 * Checks that encoded properties are well formed (every length in range, a valid headers table,
 * no trailing bytes) without building anything. After it passes, the raw readers cannot throw.
 */
export function validateProperties(
  buf: Buffer,
  start: number,
  end: number,
  reader: ByteReader = sharedReader,
): void {
  reader.reset(buf, start, end);
  reader.setContext('basic properties');
  const flags = reader.u16();
  for (let index = 0; index < PROPERTY_KINDS.length; index++) {
    if ((flags & (0x8000 >>> index)) === 0) continue;
    switch (PROPERTY_KINDS[index]) {
      case KIND_SHORT_STRING:
        reader.skipShortString();
        break;
      case KIND_TABLE:
        reader.skipTable();
        break;
      case KIND_OCTET:
        reader.skip(1);
        break;
      case KIND_TIMESTAMP:
        reader.skip(8);
        break;
    }
  }
  reader.expectEnd();
}

// ---------------------------------------------------------------------------------------------
// Raw readers: one property straight from the encoded bytes

function malformed(detail: string): never {
  throw new ConnectionError(FRAME_ERROR, `FRAME_ERROR - cannot decode basic properties: ${detail}`);
}

/**
 * The offset of the property with flag `flag` in `buf[start, end)`, or -1 when it is absent.
 * Steps over the present properties before it, checking each length.
 */
function seekProperty(buf: Buffer, start: number, end: number, flag: number): number {
  if (end - start < 2) malformed(`${end - start} bytes cannot hold the flags word`);
  const flags = (buf[start]! << 8) | buf[start + 1]!;
  if ((flags & flag) === 0) return -1;
  let offset = start + 2;
  for (let index = 0, bit = 0x8000; bit > flag; index++, bit >>>= 1) {
    if ((flags & bit) === 0) continue;
    switch (PROPERTY_KINDS[index]) {
      case KIND_SHORT_STRING:
        if (offset >= end) malformed(`shortstr length at ${offset - start} is past the end`);
        offset += 1 + buf[offset]!;
        break;
      case KIND_TABLE:
        if (offset + 4 > end) malformed(`table length at ${offset - start} is past the end`);
        offset +=
          4 +
          buf[offset]! * 0x100_0000 +
          ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
        break;
      case KIND_OCTET:
        offset += 1;
        break;
      case KIND_TIMESTAMP:
        offset += 8;
        break;
    }
    if (offset > end) malformed(`property at flag 0x${bit.toString(16)} overruns the end`);
  }
  return offset;
}

function readOctetProperty(buf: Buffer, start: number, end: number, flag: number): number {
  const offset = seekProperty(buf, start, end, flag);
  if (offset < 0) return -1;
  if (offset >= end) malformed(`octet property at ${offset - start} is past the end`);
  return buf[offset]!;
}

function readShortStringProperty(
  buf: Buffer,
  start: number,
  end: number,
  flag: number,
): string | undefined {
  const offset = seekProperty(buf, start, end, flag);
  if (offset < 0) return undefined;
  if (offset >= end) malformed(`shortstr property at ${offset - start} is past the end`);
  const stringEnd = offset + 1 + buf[offset]!;
  if (stringEnd > end) malformed(`shortstr property at ${offset - start} overruns the end`);
  return buf.toString('utf8', offset + 1, stringEnd);
}

/** The delivery-mode property (2 = persistent), or 0 when absent. */
export function readDeliveryMode(buf: Buffer, start: number, end: number): number {
  const value = readOctetProperty(buf, start, end, PROPERTY_FLAG_DELIVERY_MODE);
  return value < 0 ? 0 : value;
}

/** The priority property, or -1 when absent. */
export function readPriority(buf: Buffer, start: number, end: number): number {
  return readOctetProperty(buf, start, end, PROPERTY_FLAG_PRIORITY);
}

/** The expiration property (per-message TTL in milliseconds, as text), or undefined. */
export function readExpiration(buf: Buffer, start: number, end: number): string | undefined {
  return readShortStringProperty(buf, start, end, PROPERTY_FLAG_EXPIRATION);
}

/** The reply-to property, or undefined. */
export function readReplyTo(buf: Buffer, start: number, end: number): string | undefined {
  return readShortStringProperty(buf, start, end, PROPERTY_FLAG_REPLY_TO);
}

/** The user-id property, or undefined. */
export function readUserId(buf: Buffer, start: number, end: number): string | undefined {
  return readShortStringProperty(buf, start, end, PROPERTY_FLAG_USER_ID);
}

/** The timestamp property in seconds, or -1 when absent. */
export function readTimestamp(buf: Buffer, start: number, end: number): number {
  const offset = seekProperty(buf, start, end, PROPERTY_FLAG_TIMESTAMP);
  if (offset < 0) return -1;
  if (offset + 8 > end) malformed(`timestamp property at ${offset - start} overruns the end`);
  const high =
    buf[offset]! * 0x100_0000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
  const low =
    buf[offset + 4]! * 0x100_0000 +
    ((buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!);
  return high * 0x1_0000_0000 + low;
}

/**
 * The byte range of the headers table, 32-bit length prefix included, or null when absent. Feed
 * it to decodeFieldTable, or splice new headers in without touching the other properties.
 */
export function findHeadersRange(
  buf: Buffer,
  start: number,
  end: number,
): [start: number, end: number] | null {
  const offset = seekProperty(buf, start, end, PROPERTY_FLAG_HEADERS);
  if (offset < 0) return null;
  if (offset + 4 > end) malformed(`headers length at ${offset - start} is past the end`);
  const length =
    buf[offset]! * 0x100_0000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
  const tableEnd = offset + 4 + length;
  if (tableEnd > end) malformed(`headers table at ${offset - start} overruns the end`);
  return [offset, tableEnd];
}

// ---------------------------------------------------------------------------------------------
// Content header frames

/** What a content header frame says before its properties. */
export interface ContentHeader {
  classId: number;
  /** Total body bytes still to come in body frames; always a safe integer. */
  bodySize: number;
  /** Where the encoded properties (flags word first) start; they run to the payload end. */
  propertiesStart: number;
}

/**
 * Decodes a content header payload. Pass `into` to reuse one object per connection and allocate
 * nothing. Throws ConnectionError: FRAME_ERROR for a short payload or a body size beyond 2^53 - 1
 * (RabbitMQ: "content body size ~B exceeds maximum allowed size ~B"), UNEXPECTED_FRAME for a
 * non-zero weight (RabbitMQ's command assembler accepts only weight 0). Checking the size against
 * the broker's own message limit and the class against the method is the caller's job.
 */
export function decodeContentHeader(
  buf: Buffer,
  start: number,
  end: number,
  into: ContentHeader = { classId: 0, bodySize: 0, propertiesStart: 0 },
): ContentHeader {
  if (end - start < CONTENT_HEADER_FIXED_BYTES + 2) {
    throw new ConnectionError(
      FRAME_ERROR,
      `FRAME_ERROR - content header payload of ${end - start} bytes is shorter than 14`,
    );
  }
  const classId = (buf[start]! << 8) | buf[start + 1]!;
  const weight = (buf[start + 2]! << 8) | buf[start + 3]!;
  if (weight !== 0) {
    throw new ConnectionError(
      UNEXPECTED_FRAME,
      `UNEXPECTED_FRAME - content header for class ${classId} has weight ${weight}, not 0`,
    );
  }
  const high =
    buf[start + 4]! * 0x100_0000 +
    ((buf[start + 5]! << 16) | (buf[start + 6]! << 8) | buf[start + 7]!);
  const low =
    buf[start + 8]! * 0x100_0000 +
    ((buf[start + 9]! << 16) | (buf[start + 10]! << 8) | buf[start + 11]!);
  if (high >= 0x20_0000) {
    const size = (BigInt(high) << 32n) | BigInt(low);
    throw new ConnectionError(
      FRAME_ERROR,
      `FRAME_ERROR - content body size ${size} exceeds maximum allowed size ${Number.MAX_SAFE_INTEGER}`,
    );
  }
  into.classId = classId;
  into.bodySize = high * 0x1_0000_0000 + low;
  into.propertiesStart = start + CONTENT_HEADER_FIXED_BYTES;
  return into;
}

/**
 * Writes a complete content header frame around already-encoded properties
 * `propertiesBuf[propertiesStart, propertiesEnd)` (flags word first), as a broker forwards them.
 */
export function encodeContentHeaderFrame(
  writer: ByteWriter,
  channel: number,
  classId: number,
  bodySize: number,
  propertiesBuf: Uint8Array,
  propertiesStart: number,
  propertiesEnd: number,
): void {
  writer.ensure(8 + CONTENT_HEADER_FIXED_BYTES + propertiesEnd - propertiesStart);
  writer.u8(FRAME_HEADER);
  writer.u16(channel);
  writer.u32(CONTENT_HEADER_FIXED_BYTES + propertiesEnd - propertiesStart);
  writer.u16(classId);
  writer.u16(0);
  writer.u64(bodySize);
  writer.bytes(propertiesBuf, propertiesStart, propertiesEnd);
  writer.u8(FRAME_END);
}

/** Writes a complete content header frame, encoding `properties`. */
export function encodeContentHeaderFrameWithProperties(
  writer: ByteWriter,
  channel: number,
  classId: number,
  bodySize: number,
  properties: BasicProperties,
): void {
  const frameStart = writer.position;
  const sizeAt = beginFrame(writer, FRAME_HEADER, channel);
  writer.u16(classId);
  writer.u16(0);
  writer.u64(bodySize);
  try {
    encodeProperties(writer, properties);
  } catch (error) {
    writer.rewind(frameStart);
    throw error;
  }
  endFrame(writer, sizeAt);
}
