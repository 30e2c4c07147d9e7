// ByteReader: a cursor over a byte range that never trusts a length it has not checked against
// the bytes left. Runs on whichever thread decodes frames, usually one reader per connection,
// re-aimed at each frame with reset() so decoding allocates nothing but the values it returns.
// Every overrun or malformed value throws ConnectionError(FRAME_ERROR), RabbitMQ's reply to a
// payload it "cannot decode" (rabbit_misc:frame_error); the error names the method being decoded.

import { isUtf8 } from 'node:buffer';
import { FRAME_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';
import { readFieldTable, skipFieldTable, type FieldTable } from './field-table.js';

const EMPTY_BUFFER = Buffer.alloc(0);
const TWO_TO_THE_32 = 0x1_0000_0000;

export class ByteReader {
  /** The buffer being read; public so the field-table codec can read it directly. */
  buffer: Buffer;
  /** The next byte to read. */
  offset: number;
  /** One past the last readable byte. Table decoding narrows it to the table being read. */
  end: number;
  /** What is being decoded, for error texts: a method name such as `basic.publish`. */
  contextName: string;
  /** Class and method id reported in errors, 0 when not decoding a method. */
  classId: number;
  methodId: number;
  /**
   * Plain table decoding also remembers each top-level entry's wire type (see fieldTypeOf), for
   * error texts that name the type a client sent, as RabbitMQ's do.
   */
  isRecordingTypes: boolean;

  constructor(buffer: Buffer = EMPTY_BUFFER, start = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = start;
    this.end = end;
    this.contextName = 'frame';
    this.classId = 0;
    this.methodId = 0;
    this.isRecordingTypes = false;
    this.reset(buffer, start, end);
  }

  /** Aims the reader at `buffer[start, end)` and clears the error context. */
  reset(buffer: Buffer, start = 0, end = buffer.length): this {
    if (!(start >= 0 && start <= end && end <= buffer.length)) {
      throw new RangeError(`ByteReader range [${start}, ${end}) outside ${buffer.length} bytes`);
    }
    this.buffer = buffer;
    this.offset = start;
    this.end = end;
    this.contextName = 'frame';
    this.classId = 0;
    this.methodId = 0;
    return this;
  }

  /** Names what is being decoded; errors then carry this name and these ids. */
  setContext(contextName: string, classId = 0, methodId = 0): void {
    this.contextName = contextName;
    this.classId = classId;
    this.methodId = methodId;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws ConnectionError(FRAME_ERROR) unless every byte has been read. */
  expectEnd(): void {
    if (this.offset !== this.end) this.malformed(`${this.end - this.offset} trailing bytes`);
  }

  /** Throws the FRAME_ERROR ConnectionError for a payload that cannot be decoded. */
  malformed(detail: string): never {
    throw new ConnectionError(
      FRAME_ERROR,
      `FRAME_ERROR - cannot decode ${this.contextName}: ${detail}`,
      this.classId,
      this.methodId,
    );
  }

  private overrun(bytes: number): never {
    this.malformed(`needs ${bytes} bytes at offset ${this.offset}, has ${this.end - this.offset}`);
  }

  skip(bytes: number): void {
    if (bytes > this.end - this.offset) this.overrun(bytes);
    this.offset += bytes;
  }

  u8(): number {
    const offset = this.offset;
    if (offset + 1 > this.end) this.overrun(1);
    this.offset = offset + 1;
    return this.buffer[offset]!;
  }

  /** One octet of packed bit fields; bit 0 is the first field. */
  bits(): number {
    return this.u8();
  }

  u16(): number {
    const offset = this.offset;
    if (offset + 2 > this.end) this.overrun(2);
    this.offset = offset + 2;
    const buffer = this.buffer;
    return (buffer[offset]! << 8) | buffer[offset + 1]!;
  }

  u32(): number {
    const offset = this.offset;
    if (offset + 4 > this.end) this.overrun(4);
    this.offset = offset + 4;
    const buffer = this.buffer;
    return (
      buffer[offset]! * 0x100_0000 +
      ((buffer[offset + 1]! << 16) | (buffer[offset + 2]! << 8) | buffer[offset + 3]!)
    );
  }

  /**
   * An unsigned 64-bit value as a number: exact up to 2^53 - 1, rounded to the nearest double
   * above. Warren issues no delivery tag above 2^53 - 1, so a rounded tag from a client matches
   * none and meets the usual "unknown delivery tag" channel error, as it would in RabbitMQ.
   * Use {@link u64BigInt} where larger values must stay exact.
   */
  u64(): number {
    const high = this.u32();
    return high * TWO_TO_THE_32 + this.u32();
  }

  u64BigInt(): bigint {
    const high = this.u32();
    return (BigInt(high) << 32n) | BigInt(this.u32());
  }

  i8(): number {
    return (this.u8() << 24) >> 24;
  }

  i16(): number {
    return (this.u16() << 16) >> 16;
  }

  i32(): number {
    return this.u32() | 0;
  }

  /** A signed 64-bit value: a number when it is a safe integer, otherwise a bigint. */
  i64(): number | bigint {
    const high = this.u32() | 0;
    const low = this.u32();
    // With |high| below 2^21 the sum is exact, so the safe-integer test is decisive.
    if (high >= -0x20_0000 && high < 0x20_0000) {
      const value = high * TWO_TO_THE_32 + low;
      if (Number.isSafeInteger(value)) return value;
    }
    return (BigInt(high) << 32n) | BigInt(low);
  }

  i64BigInt(): bigint {
    const high = this.u32() | 0;
    return (BigInt(high) << 32n) | BigInt(this.u32());
  }

  f32(): number {
    const offset = this.offset;
    if (offset + 4 > this.end) this.overrun(4);
    this.offset = offset + 4;
    return this.buffer.readFloatBE(offset);
  }

  f64(): number {
    const offset = this.offset;
    if (offset + 8 > this.end) this.overrun(8);
    this.offset = offset + 8;
    return this.buffer.readDoubleBE(offset);
  }

  /**
   * A shortstr decoded as UTF-8 without validation: invalid sequences become U+FFFD. RabbitMQ
   * skips validation for methods that carry content, for speed; so do the generated decoders.
   */
  shortString(): string {
    const length = this.u8();
    if (length === 0) return '';
    const start = this.offset;
    if (start + length > this.end) this.overrun(length);
    this.offset = start + length;
    return this.buffer.toString('utf8', start, start + length);
  }

  /** A shortstr that must be valid UTF-8, as RabbitMQ asserts (rabbit_binary_parser:assert_utf8). */
  shortStringValidated(): string {
    const length = this.u8();
    if (length === 0) return '';
    const start = this.offset;
    const end = start + length;
    if (end > this.end) this.overrun(length);
    const buffer = this.buffer;
    let index = start;
    while (index < end && buffer[index]! < 0x80) index++;
    if (index < end && !isUtf8(buffer.subarray(index, end))) {
      this.malformed('Malformed UTF-8 in shortstr');
    }
    this.offset = end;
    return buffer.toString('utf8', start, end);
  }

  /** The raw bytes of a shortstr, as a view of the buffer (no copy). */
  shortStringBytes(): Buffer {
    const length = this.u8();
    const start = this.offset;
    if (start + length > this.end) this.overrun(length);
    this.offset = start + length;
    return this.buffer.subarray(start, start + length);
  }

  skipShortString(): void {
    this.skip(this.u8());
  }

  /** A longstr as a view of the buffer (no copy): valid only while the buffer is. */
  longString(): Buffer {
    const length = this.u32();
    const start = this.offset;
    if (length > this.end - start) this.overrun(length);
    this.offset = start + length;
    return this.buffer.subarray(start, start + length);
  }

  /** A longstr copied out of the buffer, safe to keep after the frame is gone. */
  longStringCopy(): Buffer {
    const view = this.longString();
    const copy = Buffer.allocUnsafe(view.length);
    view.copy(copy);
    return copy;
  }

  /** A longstr decoded as UTF-8; invalid sequences become U+FFFD. */
  longStringUtf8(): string {
    const length = this.u32();
    const start = this.offset;
    if (length > this.end - start) this.overrun(length);
    this.offset = start + length;
    return this.buffer.toString('utf8', start, start + length);
  }

  skipLongString(): void {
    this.skip(this.u32());
  }

  /** A view of the next `length` bytes (no copy). */
  bytes(length: number): Buffer {
    const start = this.offset;
    if (length > this.end - start) this.overrun(length);
    this.offset = start + length;
    return this.buffer.subarray(start, start + length);
  }

  /**
   * A field table (with its 32-bit length prefix) as plain JS values; see field-table.ts for the
   * mapping. Decoded values never alias the buffer.
   */
  table(): FieldTable {
    return readFieldTable(this, false);
  }

  /**
   * A field table decoded so that encoding it again gives back the same bytes: values whose plain
   * JS form would re-encode under another type tag come back as TypedField.
   */
  tableLossless(): FieldTable {
    return readFieldTable(this, true);
  }

  /** Checks a field table's structure (tags, lengths, nesting) and steps over it, allocating nothing. */
  skipTable(): void {
    skipFieldTable(this);
  }
}

const tableReader = new ByteReader();

/**
 * Decodes a field table that fills exactly `buf[start, end)`, 32-bit length prefix included (the
 * range findHeadersRange returns). Lossless decoding returns TypedField where needed so that
 * encoding the result gives back the same bytes.
 */
export function decodeFieldTable(
  buf: Buffer,
  start = 0,
  end = buf.length,
  isLossless = false,
): FieldTable {
  const reader = tableReader.reset(buf, start, end);
  reader.setContext('field table');
  const table = readFieldTable(reader, isLossless);
  reader.expectEnd();
  return table;
}
