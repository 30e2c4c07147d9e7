// ByteWriter: a growable output buffer for building frames without allocating per field. Owned by
// one thread, typically one per connection. Bytes go into a slab; take() hands out a view of the
// bytes written since the last take and later writes continue after it, so a taken Buffer is never
// overwritten: when the slab fills, a new slab is allocated and only the untaken bytes move.
// Integer writers do not range-check (values wrap like Uint8Array stores); strings and tables do.

import { copyBytes } from './copy-bytes.js';
import { INTERNAL_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';
import { writeFieldTable, type FieldTable } from './field-table.js';

const SHORT_STRING_BYTES_MAX = 255;
const TWO_TO_THE_32 = 0x1_0000_0000;

export class ByteWriter {
  private slab: Buffer;
  /** First byte not yet handed out by take(). */
  private start: number;
  /** Next byte to write. */
  private offset: number;

  constructor(initialBytes = 4096) {
    if (!(Number.isSafeInteger(initialBytes) && initialBytes >= 16)) {
      throw new RangeError(`ByteWriter needs at least 16 initial bytes, got ${initialBytes}`);
    }
    this.slab = Buffer.allocUnsafe(initialBytes);
    this.start = 0;
    this.offset = 0;
  }

  /** Bytes written since the last take() or reset(); frame code uses it as a relative offset. */
  get position(): number {
    return this.offset - this.start;
  }

  /** Makes room for `bytes` more bytes, so the next writes of that size do not grow the slab. */
  ensure(bytes: number): void {
    if (this.offset + bytes > this.slab.length) this.grow(bytes);
  }

  /** Returns exactly the bytes written since the last take() and starts afresh after them. */
  take(): Buffer {
    const taken = this.slab.subarray(this.start, this.offset);
    this.start = this.offset;
    return taken;
  }

  /**
   * Starts writing at the slab's beginning again: call only when nothing holds a view taken from
   * it any more (say, the socket wrote every taken byte to the kernel). Without it, every byte
   * ever written lands in fresh memory: a new slab each time one fills, for the GC to sweep.
   */
  recycle(): void {
    if (this.start !== this.offset) return;
    this.start = 0;
    this.offset = 0;
  }

  /** Drops the bytes written since the last take(). */
  reset(): void {
    this.offset = this.start;
  }

  /** Drops the bytes written after `position`, for example a frame that failed half way. */
  rewind(position: number): void {
    if (!(position >= 0 && position <= this.offset - this.start)) {
      throw new RangeError(`cannot rewind to ${position}; ${this.offset - this.start} written`);
    }
    this.offset = this.start + position;
  }

  /** Overwrites 4 bytes at `at` (a position() value) with `value`, big-endian. */
  patchU32(at: number, value: number): void {
    if (!(at >= 0 && at + 4 <= this.offset - this.start)) {
      throw new RangeError(`cannot patch 4 bytes at ${at}; ${this.offset - this.start} written`);
    }
    const offset = this.start + at;
    const slab = this.slab;
    slab[offset] = value >>> 24;
    slab[offset + 1] = value >>> 16;
    slab[offset + 2] = value >>> 8;
    slab[offset + 3] = value;
  }

  private reserve(bytes: number): number {
    const offset = this.offset;
    if (offset + bytes > this.slab.length) {
      this.grow(bytes);
      return this.reserve(bytes);
    }
    this.offset = offset + bytes;
    return offset;
  }

  private grow(bytes: number): void {
    const pending = this.offset - this.start;
    let size = this.slab.length;
    while (size < pending + bytes) size *= 2;
    const slab = Buffer.allocUnsafe(size);
    this.slab.copy(slab, 0, this.start, this.offset);
    this.slab = slab;
    this.start = 0;
    this.offset = pending;
  }

  u8(value: number): void {
    const offset = this.reserve(1);
    this.slab[offset] = value;
  }

  u16(value: number): void {
    const offset = this.reserve(2);
    const slab = this.slab;
    slab[offset] = value >>> 8;
    slab[offset + 1] = value;
  }

  u32(value: number): void {
    const offset = this.reserve(4);
    const slab = this.slab;
    slab[offset] = value >>> 24;
    slab[offset + 1] = value >>> 16;
    slab[offset + 2] = value >>> 8;
    slab[offset + 3] = value;
  }

  /** Writes an unsigned 64-bit value. A number must be a non-negative safe integer. */
  u64(value: number | bigint): void {
    if (typeof value === 'bigint') {
      this.write64(BigInt.asUintN(64, value));
      return;
    }
    this.u32(Math.floor(value / TWO_TO_THE_32));
    this.u32(value >>> 0);
  }

  i8(value: number): void {
    this.u8(value);
  }

  i16(value: number): void {
    this.u16(value);
  }

  i32(value: number): void {
    this.u32(value);
  }

  /** Writes a signed 64-bit value. A number must be a safe integer. */
  i64(value: number | bigint): void {
    if (typeof value === 'bigint') {
      this.write64(BigInt.asUintN(64, value));
      return;
    }
    const high = Math.floor(value / TWO_TO_THE_32);
    this.u32(high);
    this.u32(value - high * TWO_TO_THE_32);
  }

  private write64(unsigned: bigint): void {
    this.u32(Number(unsigned >> 32n));
    this.u32(Number(unsigned & 0xffff_ffffn));
  }

  f32(value: number): void {
    const offset = this.reserve(4);
    this.slab.writeFloatBE(value, offset);
  }

  f64(value: number): void {
    const offset = this.reserve(8);
    this.slab.writeDoubleBE(value, offset);
  }

  /**
   * Writes a shortstr. More than 255 UTF-8 bytes throws ConnectionError(INTERNAL_ERROR): every
   * shortstr Warren sends is either echoed from a client shortstr or made by Warren, so an
   * oversized one is our bug. RabbitMQ fails the same way (shortstr_size exits with
   * method_field_shortstr_overflow, which it reports as INTERNAL_ERROR). Reply texts use
   * {@link shortStringTruncated} instead.
   */
  shortString(value: string): void {
    const written = this.writeShortString(value);
    if (written > SHORT_STRING_BYTES_MAX) {
      this.offset -= written + 1;
      throw new ConnectionError(
        INTERNAL_ERROR,
        `INTERNAL_ERROR - shortstr of ${written} bytes exceeds 255: ${value.slice(0, 64)}`,
      );
    }
  }

  /** Writes a shortstr cut to 252 bytes plus "..." when longer than 255, as RabbitMQ does. */
  shortStringTruncated(value: string): void {
    const written = this.writeShortString(value);
    if (written <= SHORT_STRING_BYTES_MAX) return;
    const lengthAt = this.offset - written - 1;
    const slab = this.slab;
    let cut = SHORT_STRING_BYTES_MAX - 3;
    while (cut > 0 && (slab[lengthAt + 1 + cut]! & 0xc0) === 0x80) cut--;
    slab[lengthAt] = cut + 3;
    slab.write('...', lengthAt + 1 + cut, 'latin1');
    this.offset = lengthAt + 1 + cut + 3;
  }

  /**
   * Writes a length octet and the UTF-8 bytes, and returns the byte count, which may exceed 255
   * (the length octet is then wrong and the caller must cut or undo). ASCII takes a loop, which
   * beats the native encoder for the short names that fill method frames.
   */
  private writeShortString(value: string): number {
    const length = value.length;
    if (length > SHORT_STRING_BYTES_MAX) {
      // Each UTF-16 code unit needs at least one byte, so this is too long: measure it exactly.
      const bytes = Buffer.byteLength(value, 'utf8');
      const offset = this.reserve(1 + bytes);
      this.slab.write(value, offset + 1, bytes, 'utf8');
      return bytes;
    }
    const offset = this.reserve(1 + length * 3);
    const slab = this.slab;
    let index = 0;
    for (; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) break;
      slab[offset + 1 + index] = code;
    }
    const written = index === length ? length : slab.write(value, offset + 1, length * 3, 'utf8');
    slab[offset] = written;
    this.offset = offset + 1 + written;
    return written;
  }

  /** Writes a longstr: a 32-bit length and the bytes of a Buffer or the UTF-8 of a string. */
  longString(value: string | Buffer): void {
    if (typeof value !== 'string') {
      this.u32(value.length);
      this.bytes(value);
      return;
    }
    // Reserve the worst case for short strings rather than measuring them twice.
    const bytesMax = value.length <= 1024 ? value.length * 3 : Buffer.byteLength(value, 'utf8');
    const offset = this.reserve(4 + bytesMax);
    const slab = this.slab;
    const written = slab.write(value, offset + 4, bytesMax, 'utf8');
    slab[offset] = written >>> 24;
    slab[offset + 1] = written >>> 16;
    slab[offset + 2] = written >>> 8;
    slab[offset + 3] = written;
    this.offset = offset + 4 + written;
  }

  /** Copies `buffer[start, end)` into the output. */
  bytes(buffer: Uint8Array, start = 0, end = buffer.length): void {
    const offset = this.reserve(end - start);
    copyBytes(buffer, this.slab, offset, start, end);
  }

  /** Writes a field table with its 32-bit length prefix; see field-table.ts for the mapping. */
  table(table: FieldTable): void {
    writeFieldTable(this, table);
  }
}

/** Encodes a field table, 32-bit length prefix included, into a Buffer of its own. */
export function encodeFieldTable(table: FieldTable): Buffer {
  const writer = new ByteWriter(256);
  writer.table(table);
  return writer.take();
}
