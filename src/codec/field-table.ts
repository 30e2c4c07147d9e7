// AMQP field tables and arrays: the value types, their decoding and encoding, and the equivalence
// check used on redeclare. Pure functions, any thread; off the per-message path (headers stay raw
// bytes until a feature needs a key). Invariants: decoding never recurses past
// FIELD_TABLE_DEPTH_MAX, never reads past a table's own length, and never aliases the input.
// Over 600 lines because decoding, skipping, encoding and comparing each value type are one
// grammar: a type's cases stay beside each other so none is forgotten when one changes.

import { isUtf8 } from 'node:buffer';
import type { ByteReader } from './byte-reader.js';
import type { ByteWriter } from './byte-writer.js';
import { INTERNAL_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';

/** The deepest nesting of tables and arrays inside a table that we decode or encode. */
export const FIELD_TABLE_DEPTH_MAX = 64;

/** An AMQP decimal: `value` / 10^`scale`, with an unsigned 32-bit value as RabbitMQ reads it. */
export class Decimal {
  readonly type = 'decimal';
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/** An AMQP timestamp, in seconds since the Unix epoch. */
export class Timestamp {
  readonly type = 'timestamp';
  constructor(readonly value: number) {}
}

/** Tags a TypedField can carry: every scalar type of the field-table grammar. */
export type TypedFieldTag =
  't' | 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'L' | 'f' | 'd' | 'T' | 'S' | 'x';

/**
 * A value with an explicit wire type, for when the JS type does not pick the right one, for
 * example `new TypedField('b', 10)` or `new TypedField('S', bytesThatAreNotUtf8)`. Encoding checks
 * the value fits the tag and throws ConnectionError(INTERNAL_ERROR) when it does not.
 */
export class TypedField {
  constructor(
    readonly type: TypedFieldTag,
    readonly value: boolean | number | bigint | string | Buffer,
  ) {}
}

/**
 * A field-table value.
 *
 * Plain decoding: t -> boolean; b B s u I i -> number; l L -> number when a safe integer, else
 * bigint (RabbitMQ reads both as signed 64-bit, per its errata); f d -> number; D -> Decimal;
 * S -> string (UTF-8); x -> Buffer; T -> Timestamp (seconds); F -> FieldTable; A -> array;
 * V -> null.
 *
 * Encoding JS values: boolean -> t; an integer in int32 range -> I (as the Java, .NET and
 * amqp-client.js clients send; amqplib picks the smallest of b, s, I, l instead); other integers
 * -> l; other numbers -> d; bigint -> l; string -> S; Buffer or Uint8Array -> x; null or
 * undefined -> V; array -> A; Decimal -> D; Timestamp -> T; TypedField -> its own tag; any other
 * object -> F.
 *
 * Plain decoding loses the tag (a client's b 5 comes back as 5 and re-encodes as I 5), which is
 * what argument lookups want. Lossless decoding (ByteReader.tableLossless, decodeFieldTable with
 * isLossless) returns TypedField wherever the plain value would re-encode differently, so
 * encoding the result gives back the input bytes, except for duplicate keys (the last wins) and
 * keys that are not valid UTF-8.
 */
export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Decimal
  | Timestamp
  | TypedField
  | null
  | FieldValue[]
  | FieldTable;

export type FieldTable = { [key: string]: FieldValue };

// Type tags as octets.
const TAG_BOOLEAN = 0x74; // t
const TAG_INT8 = 0x62; // b
const TAG_UINT8 = 0x42; // B
const TAG_INT16 = 0x73; // s
const TAG_UINT16 = 0x75; // u
const TAG_INT32 = 0x49; // I
const TAG_UINT32 = 0x69; // i
const TAG_INT64 = 0x6c; // l
const TAG_INT64_UPPER = 0x4c; // L
const TAG_FLOAT = 0x66; // f
const TAG_DOUBLE = 0x64; // d
const TAG_DECIMAL = 0x44; // D
const TAG_LONG_STRING = 0x53; // S
const TAG_BYTES = 0x78; // x
const TAG_TIMESTAMP = 0x54; // T
const TAG_TABLE = 0x46; // F
const TAG_ARRAY = 0x41; // A
const TAG_VOID = 0x56; // V

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const TWO_TO_THE_63 = 2 ** 63;

// ---------------------------------------------------------------------------------------------
// Decoding

/** Reads a table (32-bit length, then entries) at the reader's offset. */
export function readFieldTable(reader: ByteReader, isLossless: boolean, depth = 0): FieldTable {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    reader.malformed(`field table nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels`);
  }
  const length = reader.u32();
  if (length > reader.end - reader.offset) {
    reader.malformed(`field table of ${length} bytes overruns ${reader.end - reader.offset}`);
  }
  const tableEnd = reader.offset + length;
  const outerEnd = reader.end;
  // Narrowing the end makes every read inside the table respect the table's own length.
  reader.end = tableEnd;
  const table: FieldTable = {};
  const isRecording = reader.isRecordingTypes && !isLossless;
  let types: Record<string, string> | null = null;
  while (reader.offset < tableEnd) {
    const key = reader.shortString();
    if (isRecording && reader.offset < tableEnd) {
      types ??= recordTypes(table);
      types[key] = String.fromCharCode(reader.buffer[reader.offset]!);
    }
    const value = readFieldValue(reader, isLossless, depth);
    if (key === '__proto__') {
      // A plain assignment would set the prototype instead of adding the key.
      Object.defineProperty(table, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      table[key] = value;
    }
  }
  reader.end = outerEnd;
  return table;
}

/** Wire types of the top-level entries of tables decoded by a type-recording reader. */
const recordedTypes = new WeakMap<FieldTable, Record<string, string>>();

function recordTypes(table: FieldTable): Record<string, string> {
  const types: Record<string, string> = Object.create(null) as Record<string, string>;
  recordedTypes.set(table, types);
  return types;
}

/** RabbitMQ's names of the wire types (rabbit_binary_parser). */
const TYPE_NAMES: Record<string, string> = {
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
  D: 'decimal',
  S: 'longstr',
  x: 'binary',
  T: 'timestamp',
  F: 'table',
  A: 'array',
  V: 'void',
};

/**
 * RabbitMQ's name of the wire type `table[key]` arrived with (byte, short, signedint, long,
 * longstr, ...), when the table was decoded by a type-recording reader; else undefined.
 */
export function fieldTypeOf(table: FieldTable, key: string): string | undefined {
  const tag = recordedTypes.get(table)?.[key];
  return tag === undefined ? undefined : TYPE_NAMES[tag];
}

function readFieldArray(reader: ByteReader, isLossless: boolean, depth: number): FieldValue[] {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    reader.malformed(`field array nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels`);
  }
  const length = reader.u32();
  if (length > reader.end - reader.offset) {
    reader.malformed(`field array of ${length} bytes overruns ${reader.end - reader.offset}`);
  }
  const arrayEnd = reader.offset + length;
  const outerEnd = reader.end;
  reader.end = arrayEnd;
  const values: FieldValue[] = [];
  while (reader.offset < arrayEnd) values.push(readFieldValue(reader, isLossless, depth));
  reader.end = outerEnd;
  return values;
}

/** Reads one tagged value; `depth` is the nesting of the table or array that holds it. */
function readFieldValue(reader: ByteReader, isLossless: boolean, depth: number): FieldValue {
  const tag = reader.u8();
  switch (tag) {
    case TAG_LONG_STRING: {
      if (!isLossless) return reader.longStringUtf8();
      const bytes = reader.longString();
      if (isUtf8(bytes)) return bytes.toString('utf8');
      return new TypedField('S', Buffer.from(bytes));
    }
    case TAG_INT32:
      return reader.i32();
    case TAG_BOOLEAN: {
      const octet = reader.u8();
      return isLossless && octet > 1 ? new TypedField('t', octet) : octet !== 0;
    }
    case TAG_INT8: {
      const value = reader.i8();
      return isLossless ? new TypedField('b', value) : value;
    }
    case TAG_UINT8: {
      const value = reader.u8();
      return isLossless ? new TypedField('B', value) : value;
    }
    case TAG_INT16: {
      const value = reader.i16();
      return isLossless ? new TypedField('s', value) : value;
    }
    case TAG_UINT16: {
      const value = reader.u16();
      return isLossless ? new TypedField('u', value) : value;
    }
    case TAG_UINT32: {
      const value = reader.u32();
      return isLossless ? new TypedField('i', value) : value;
    }
    case TAG_INT64: {
      const value = reader.i64();
      // Only an int32-range number would re-encode as I; anything else re-encodes as l.
      const isAmbiguous = typeof value === 'number' && value >= INT32_MIN && value <= INT32_MAX;
      return isLossless && isAmbiguous ? new TypedField('l', value) : value;
    }
    case TAG_INT64_UPPER: {
      const value = reader.i64();
      return isLossless ? new TypedField('L', value) : value;
    }
    case TAG_FLOAT: {
      const value = reader.f32();
      return isLossless ? new TypedField('f', value) : value;
    }
    case TAG_DOUBLE: {
      const value = reader.f64();
      return isLossless && Number.isInteger(value) ? new TypedField('d', value) : value;
    }
    case TAG_DECIMAL: {
      const scale = reader.u8();
      return new Decimal(scale, reader.u32());
    }
    case TAG_TIMESTAMP: {
      if (!isLossless) return new Timestamp(reader.u64());
      const value = reader.u64BigInt();
      return value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? new Timestamp(Number(value))
        : new TypedField('T', value);
    }
    case TAG_TABLE:
      return readFieldTable(reader, isLossless, depth + 1);
    case TAG_ARRAY:
      return readFieldArray(reader, isLossless, depth + 1);
    case TAG_VOID:
      return null;
    case TAG_BYTES:
      return Buffer.from(reader.longString());
    default:
      return reader.malformed(`unknown field value type ${describeTag(tag)}`);
  }
}

/** Checks a table's structure and steps over it without building values. */
export function skipFieldTable(reader: ByteReader, depth = 0): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    reader.malformed(`field table nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels`);
  }
  const length = reader.u32();
  if (length > reader.end - reader.offset) {
    reader.malformed(`field table of ${length} bytes overruns ${reader.end - reader.offset}`);
  }
  const tableEnd = reader.offset + length;
  const outerEnd = reader.end;
  reader.end = tableEnd;
  while (reader.offset < tableEnd) {
    reader.skipShortString();
    skipFieldValue(reader, depth);
  }
  reader.end = outerEnd;
}

function skipFieldArray(reader: ByteReader, depth: number): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    reader.malformed(`field array nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels`);
  }
  const length = reader.u32();
  if (length > reader.end - reader.offset) {
    reader.malformed(`field array of ${length} bytes overruns ${reader.end - reader.offset}`);
  }
  const arrayEnd = reader.offset + length;
  const outerEnd = reader.end;
  reader.end = arrayEnd;
  while (reader.offset < arrayEnd) skipFieldValue(reader, depth);
  reader.end = outerEnd;
}

function skipFieldValue(reader: ByteReader, depth: number): void {
  const tag = reader.u8();
  switch (tag) {
    case TAG_LONG_STRING:
    case TAG_BYTES:
      reader.skipLongString();
      return;
    case TAG_BOOLEAN:
    case TAG_INT8:
    case TAG_UINT8:
      reader.skip(1);
      return;
    case TAG_INT16:
    case TAG_UINT16:
      reader.skip(2);
      return;
    case TAG_INT32:
    case TAG_UINT32:
    case TAG_FLOAT:
      reader.skip(4);
      return;
    case TAG_DECIMAL:
      reader.skip(5);
      return;
    case TAG_INT64:
    case TAG_INT64_UPPER:
    case TAG_DOUBLE:
    case TAG_TIMESTAMP:
      reader.skip(8);
      return;
    case TAG_TABLE:
      skipFieldTable(reader, depth + 1);
      return;
    case TAG_ARRAY:
      skipFieldArray(reader, depth + 1);
      return;
    case TAG_VOID:
      return;
    default:
      reader.malformed(`unknown field value type ${describeTag(tag)}`);
  }
}

function describeTag(tag: number): string {
  return tag >= 0x21 && tag < 0x7f ? `'${String.fromCharCode(tag)}'` : `0x${tag.toString(16)}`;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Writes a table with its 32-bit length prefix; `depth` counts enclosing tables and arrays. */
export function writeFieldTable(writer: ByteWriter, table: FieldTable, depth = 0): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    throw encodeError(`nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels (a cycle?)`);
  }
  const sizeAt = writer.position;
  writer.u32(0);
  for (const key in table) {
    if (!Object.hasOwn(table, key)) continue;
    writer.shortString(key);
    writeFieldValue(writer, table[key], depth);
  }
  writer.patchU32(sizeAt, writer.position - sizeAt - 4);
}

function writeFieldArray(writer: ByteWriter, values: readonly FieldValue[], depth: number): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    throw encodeError(`nested deeper than ${FIELD_TABLE_DEPTH_MAX} levels (a cycle?)`);
  }
  const sizeAt = writer.position;
  writer.u32(0);
  for (const value of values) writeFieldValue(writer, value, depth);
  writer.patchU32(sizeAt, writer.position - sizeAt - 4);
}

function writeFieldValue(writer: ByteWriter, value: FieldValue | undefined, depth: number): void {
  switch (typeof value) {
    case 'string':
      writer.u8(TAG_LONG_STRING);
      writer.longString(value);
      return;
    case 'number':
      writeNumber(writer, value);
      return;
    case 'boolean':
      writer.u8(TAG_BOOLEAN);
      writer.u8(value ? 1 : 0);
      return;
    case 'bigint':
      writer.u8(TAG_INT64);
      writer.i64(checkBigInt(value, INT64_MIN, INT64_MAX, 'l'));
      return;
    case 'undefined':
      writer.u8(TAG_VOID);
      return;
    case 'object':
      if (value === null) {
        writer.u8(TAG_VOID);
      } else if (value instanceof Uint8Array) {
        writer.u8(TAG_BYTES);
        writer.u32(value.length);
        writer.bytes(value);
      } else if (Array.isArray(value)) {
        writer.u8(TAG_ARRAY);
        writeFieldArray(writer, value, depth + 1);
      } else if (value instanceof TypedField) {
        writeTypedField(writer, value);
      } else if (value instanceof Decimal) {
        writer.u8(TAG_DECIMAL);
        writer.u8(checkNumber(value.scale, 0, 0xff, 'D scale'));
        writer.u32(checkNumber(value.value, 0, 0xffff_ffff, 'D value'));
      } else if (value instanceof Timestamp) {
        writer.u8(TAG_TIMESTAMP);
        writer.u64(checkNumber(value.value, 0, Number.MAX_SAFE_INTEGER, 'T'));
      } else {
        writer.u8(TAG_TABLE);
        writeFieldTable(writer, value as FieldTable, depth + 1);
      }
      return;
    default:
      throw encodeError(`cannot encode a ${typeof value}`);
  }
}

function writeNumber(writer: ByteWriter, value: number): void {
  if (Number.isInteger(value)) {
    if (value >= INT32_MIN && value <= INT32_MAX) {
      writer.u8(TAG_INT32);
      writer.i32(value);
      return;
    }
    if (value >= -TWO_TO_THE_63 && value < TWO_TO_THE_63) {
      writer.u8(TAG_INT64);
      writer.i64(Number.isSafeInteger(value) ? value : BigInt(value));
      return;
    }
  }
  writer.u8(TAG_DOUBLE);
  writer.f64(value);
}

function writeTypedField(writer: ByteWriter, field: TypedField): void {
  const value = field.value;
  switch (field.type) {
    case 't':
      writer.u8(TAG_BOOLEAN);
      writer.u8(typeof value === 'boolean' ? (value ? 1 : 0) : checkNumber(value, 0, 0xff, 't'));
      return;
    case 'b':
      writer.u8(TAG_INT8);
      writer.i8(checkNumber(value, -0x80, 0x7f, 'b'));
      return;
    case 'B':
      writer.u8(TAG_UINT8);
      writer.u8(checkNumber(value, 0, 0xff, 'B'));
      return;
    case 's':
      writer.u8(TAG_INT16);
      writer.i16(checkNumber(value, -0x8000, 0x7fff, 's'));
      return;
    case 'u':
      writer.u8(TAG_UINT16);
      writer.u16(checkNumber(value, 0, 0xffff, 'u'));
      return;
    case 'I':
      writer.u8(TAG_INT32);
      writer.i32(checkNumber(value, INT32_MIN, INT32_MAX, 'I'));
      return;
    case 'i':
      writer.u8(TAG_UINT32);
      writer.u32(checkNumber(value, 0, 0xffff_ffff, 'i'));
      return;
    case 'l':
    case 'L':
      writer.u8(field.type === 'l' ? TAG_INT64 : TAG_INT64_UPPER);
      writer.i64(
        typeof value === 'bigint'
          ? checkBigInt(value, INT64_MIN, INT64_MAX, field.type)
          : checkNumber(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, field.type),
      );
      return;
    case 'f':
    case 'd':
      if (typeof value !== 'number') throw encodeError(`${field.type} needs a number`);
      writer.u8(field.type === 'f' ? TAG_FLOAT : TAG_DOUBLE);
      if (field.type === 'f') writer.f32(value);
      else writer.f64(value);
      return;
    case 'T':
      writer.u8(TAG_TIMESTAMP);
      writer.u64(
        typeof value === 'bigint'
          ? checkBigInt(value, 0n, UINT64_MAX, 'T')
          : checkNumber(value, 0, Number.MAX_SAFE_INTEGER, 'T'),
      );
      return;
    case 'S':
    case 'x':
      if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
        throw encodeError(`${field.type} needs a string or Buffer`);
      }
      writer.u8(field.type === 'S' ? TAG_LONG_STRING : TAG_BYTES);
      writer.longString(value);
      return;
    default:
      throw encodeError(`unknown type tag ${JSON.stringify(field.type)}`);
  }
}

function checkNumber(value: unknown, min: number, max: number, tag: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw encodeError(`${tag} needs an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function checkBigInt(value: bigint, min: bigint, max: bigint, tag: string): bigint {
  if (value < min || value > max) {
    throw encodeError(`${tag} needs an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function encodeError(detail: string): ConnectionError {
  return new ConnectionError(
    INTERNAL_ERROR,
    `INTERNAL_ERROR - cannot encode field table: ${detail}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Equivalence

/**
 * Deep equality of two tables, for argument checks on redeclare. Keys must match exactly; numbers
 * compare by value whatever their width or tag (RabbitMQ compares integer types as one class, in
 * rabbit_misc assert_args_equivalence), strings compare with S-tagged bytes, and tables and arrays
 * compare element by element.
 */
export function fieldTablesEquivalent(left: FieldTable, right: FieldTable): boolean {
  return tablesEquivalent(left, right, 0);
}

function tablesEquivalent(left: FieldTable, right: FieldTable, depth: number): boolean {
  if (depth > FIELD_TABLE_DEPTH_MAX) return false;
  const leftKeys = Object.keys(left);
  if (leftKeys.length !== Object.keys(right).length) return false;
  for (const key of leftKeys) {
    if (!Object.hasOwn(right, key)) return false;
    if (!valuesEquivalent(left[key], right[key], depth)) return false;
  }
  return true;
}

function valuesEquivalent(
  left: FieldValue | undefined,
  right: FieldValue | undefined,
  depth: number,
): boolean {
  const leftValue = comparable(left);
  const rightValue = comparable(right);
  if (typeof leftValue === 'number' || typeof leftValue === 'bigint') {
    return numbersEqual(leftValue, rightValue);
  }
  if (typeof leftValue === 'string' || Buffer.isBuffer(leftValue)) {
    if (typeof rightValue === 'string' && typeof leftValue === 'string') {
      return leftValue === rightValue;
    }
    if (typeof rightValue !== 'string' && !Buffer.isBuffer(rightValue)) return false;
    return toBytes(leftValue).equals(toBytes(rightValue));
  }
  if (leftValue === null || typeof leftValue === 'boolean') return leftValue === rightValue;
  if (leftValue instanceof Decimal) {
    return (
      rightValue instanceof Decimal &&
      leftValue.scale === rightValue.scale &&
      leftValue.value === rightValue.value
    );
  }
  if (leftValue instanceof Timestamp) {
    return rightValue instanceof Timestamp && leftValue.value === rightValue.value;
  }
  if (Array.isArray(leftValue)) {
    if (!Array.isArray(rightValue) || leftValue.length !== rightValue.length) return false;
    if (depth >= FIELD_TABLE_DEPTH_MAX) return false;
    for (let index = 0; index < leftValue.length; index++) {
      if (!valuesEquivalent(leftValue[index], rightValue[index], depth + 1)) return false;
    }
    return true;
  }
  if (typeof leftValue === 'object' && !(leftValue instanceof Uint8Array)) {
    if (
      rightValue === null ||
      typeof rightValue !== 'object' ||
      Array.isArray(rightValue) ||
      rightValue instanceof Uint8Array ||
      rightValue instanceof Decimal ||
      rightValue instanceof Timestamp
    ) {
      return false;
    }
    return tablesEquivalent(leftValue as FieldTable, rightValue as FieldTable, depth + 1);
  }
  return false;
}

type Comparable = Exclude<FieldValue, TypedField> | Uint8Array | undefined;

// Strips TypedField wrappers to the value they stand for; T becomes a Timestamp, x a Buffer.
function comparable(value: FieldValue | undefined): Comparable {
  if (value === undefined) return null;
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value);
  if (!(value instanceof TypedField)) return value;
  const inner = value.value;
  switch (value.type) {
    case 't':
      return typeof inner === 'boolean' ? inner : inner !== 0;
    case 'T':
      return typeof inner === 'bigint' ? inner : new Timestamp(Number(inner));
    default:
      return inner;
  }
}

function numbersEqual(left: number | bigint, right: Comparable): boolean {
  if (typeof right !== 'number' && typeof right !== 'bigint') return false;
  if (typeof left === 'number' && typeof right === 'number') {
    return left === right || (Number.isNaN(left) && Number.isNaN(right));
  }
  if (typeof left === 'bigint' && typeof right === 'bigint') return left === right;
  const integer = typeof left === 'number' ? left : right;
  const big = typeof left === 'bigint' ? left : right;
  return Number.isInteger(integer) && BigInt(integer as number) === big;
}

function toBytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
