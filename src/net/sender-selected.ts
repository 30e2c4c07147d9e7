// Sender-selected distribution (RabbitMQ's CC and BCC headers): a publish is routed by its own
// routing key and also by every key in its CC and BCC headers (arrays of strings), through the
// same exchange; BCC is taken off before the message is stored or delivered. Network thread
// only. Most publishes carry no headers, or none of these: one flag test, or one byte scan of
// the headers table, tells, and only a possible match decodes the table.

import {
  ByteWriter,
  Decimal,
  decodeProperties,
  encodeProperties,
  type FieldValue,
  findHeadersRange,
  PROPERTY_FLAG_HEADERS,
  Timestamp,
  TypedField,
} from '../codec/index.js';
import { channelError } from './protocol-errors.js';

const PRECONDITION_FAILED = 406;

/** The extra routing keys of one publish. */
export interface SenderSelectedRoutes {
  /** CC's keys, then BCC's, in header order. */
  keys: string[];
  /** Whether a BCC header is there to be taken off. */
  hasBcc: boolean;
}

/**
 * The routing keys the CC and BCC headers of `properties[start, end)` (encoded basic
 * properties) add, or null when there are none. A header of another type than an array is
 * refused as RabbitMQ refuses a publish with it (406 "invalid message"), or ignored with
 * `isLenient` (a stored message being dead-lettered); array entries that are not strings are
 * skipped, as there.
 */
export function senderSelectedRoutes(
  properties: Buffer,
  start: number,
  end: number,
  isLenient = false,
): SenderSelectedRoutes | null {
  if (end - start < 2 || (properties.readUInt16BE(start) & PROPERTY_FLAG_HEADERS) === 0)
    return null;
  const range = findHeadersRange(properties, start, end);
  if (range === null || !mayNameRoutingHeader(properties, range[0] + 4, range[1])) return null;
  const headers = decodeProperties(properties, start, end, undefined, true).headers ?? {};
  const cc = routesOf(headers['CC'], 'CC', isLenient);
  const bcc = routesOf(headers['BCC'], 'BCC', isLenient);
  if (cc === null && bcc === null) return null;
  return { keys: [...(cc ?? []), ...(bcc ?? [])], hasBcc: headers['BCC'] !== undefined };
}

/** The same properties without the BCC header (the rest byte for byte as they were). */
export function withoutBcc(properties: Buffer, start: number, end: number): Buffer {
  const decoded = decodeProperties(properties, start, end, undefined, true);
  if (decoded.headers !== undefined) delete decoded.headers['BCC'];
  const writer = new ByteWriter(end - start);
  encodeProperties(writer, decoded);
  return writer.take();
}

/**
 * Whether the table bytes contain the key "CC" or "BCC" as a shortstr (length octet, then the
 * letters). A value that happens to hold those bytes only costs a decode.
 */
function mayNameRoutingHeader(bytes: Buffer, start: number, end: number): boolean {
  for (let at = start; at + 2 < end; at++) {
    if (bytes[at + 1] !== 0x43 || bytes[at + 2] !== 0x43) continue;
    if (bytes[at] === 2) return true;
    if (at > start && bytes[at - 1] === 3 && bytes[at] === 0x42) return true;
  }
  return false;
}

function routesOf(value: FieldValue | undefined, key: string, isLenient: boolean): string[] | null {
  if (value === undefined || (isLenient && !Array.isArray(value))) return null;
  if (!Array.isArray(value)) {
    throw channelError(
      PRECONDITION_FAILED,
      `invalid message: {unacceptable_type_in_header,"${key}",${fieldTypeName(value)}}`,
      60,
      40,
    );
  }
  const routes: string[] = [];
  for (const entry of value) if (typeof entry === 'string') routes.push(entry);
  return routes;
}

/** RabbitMQ's name for a field value's wire type (rabbit_binary_parser's atoms). */
const TAG_NAMES: Record<string, string> = {
  t: 'bool',
  b: 'byte',
  B: 'unsignedbyte',
  s: 'short',
  u: 'unsignedshort',
  I: 'signedint',
  i: 'unsignedint',
  l: 'long',
  L: 'long',
  f: 'float',
  d: 'double',
  T: 'timestamp',
  S: 'longstr',
  x: 'binary',
};

function fieldTypeName(value: FieldValue): string {
  if (value instanceof TypedField) return TAG_NAMES[value.type] ?? 'longstr';
  if (typeof value === 'string') return 'longstr';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return 'double';
    return value >= -0x8000_0000 && value <= 0x7fff_ffff ? 'signedint' : 'long';
  }
  if (typeof value === 'bigint') return 'long';
  if (Buffer.isBuffer(value)) return 'binary';
  if (value === null) return 'void';
  if (value instanceof Timestamp) return 'timestamp';
  if (value instanceof Decimal) return 'decimal';
  return 'table';
}
