// Unit tests for ByteWriter: big-endian integer layouts, string limits, and the promise that a
// taken Buffer is never overwritten by later writes, even across slab growth.

import { describe, expect, it } from 'vitest';
import { ByteReader } from './byte-reader.js';
import { ByteWriter, encodeFieldTable } from './byte-writer.js';
import { INTERNAL_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';

function written(write: (writer: ByteWriter) => void): string {
  const writer = new ByteWriter(16);
  write(writer);
  return writer.take().toString('hex');
}

describe('ByteWriter', () => {
  it('writes integers big-endian', () => {
    expect(written((writer) => writer.u8(0xab))).toBe('ab');
    expect(written((writer) => writer.u16(0xabcd))).toBe('abcd');
    expect(written((writer) => writer.u32(0xdeadbeef))).toBe('deadbeef');
    expect(written((writer) => writer.u64(2 ** 53 - 1))).toBe('001fffffffffffff');
    expect(written((writer) => writer.u64(0xffff_ffff_ffff_ffffn))).toBe('ffffffffffffffff');
    expect(written((writer) => writer.i8(-1))).toBe('ff');
    expect(written((writer) => writer.i16(-2))).toBe('fffe');
    expect(written((writer) => writer.i32(-3))).toBe('fffffffd');
    expect(written((writer) => writer.i64(-4))).toBe('fffffffffffffffc');
    expect(written((writer) => writer.i64(-(2 ** 53) + 1))).toBe('ffe0000000000001');
    expect(written((writer) => writer.i64(-(2n ** 63n)))).toBe('8000000000000000');
    expect(written((writer) => writer.f32(1.5))).toBe('3fc00000');
    expect(written((writer) => writer.f64(-2.5))).toBe('c004000000000000');
  });

  it('recycle() reuses the slab only once everything written was taken', () => {
    const writer = new ByteWriter(16);
    writer.u32(1);
    const first = writer.take();
    writer.recycle();
    writer.u32(2);
    // The same memory again: the first view now shows the new bytes.
    expect(first.toString('hex')).toBe('00000002');
    writer.u8(3);
    writer.recycle(); // untaken bytes: nothing moves
    expect(writer.take().toString('hex')).toBe('0000000203');
  });

  it('writes strings with their length prefixes', () => {
    expect(written((writer) => writer.shortString('ab'))).toBe('026162');
    expect(written((writer) => writer.shortString('é'))).toBe('02c3a9');
    expect(written((writer) => writer.shortString(''))).toBe('00');
    expect(written((writer) => writer.longString('ab'))).toBe('000000026162');
    expect(written((writer) => writer.longString(Buffer.from([1, 2])))).toBe('000000020102');
    expect(written((writer) => writer.longString('€'.repeat(400)))).toBe(
      '000004b0' + 'e282ac'.repeat(400),
    );
  });

  it('refuses a shortstr over 255 bytes and leaves the writer as it was', () => {
    for (const value of ['x'.repeat(256), '€'.repeat(86), '😀'.repeat(64)]) {
      const writer = new ByteWriter(16);
      writer.u8(7);
      expect(() => writer.shortString(value)).toThrow(ConnectionError);
      expect(() => writer.shortString(value)).toThrow(
        expect.objectContaining({ replyCode: INTERNAL_ERROR }),
      );
      expect(writer.position).toBe(1);
    }
    const writer = new ByteWriter(16);
    writer.shortString('€'.repeat(85));
    expect(writer.position).toBe(256);
  });

  it('cuts a long shortstr to 252 bytes plus "..." on request', () => {
    const writer = new ByteWriter(16);
    writer.shortStringTruncated('€'.repeat(100));
    const bytes = writer.take();
    expect(bytes[0]).toBe(255);
    expect(bytes.toString('utf8', 1)).toBe('€'.repeat(84) + '...');
    writer.shortStringTruncated('x'.repeat(1000) + 'é');
    expect(new ByteReader(writer.take()).shortString()).toBe('x'.repeat(252) + '...');
  });

  it('never overwrites a taken buffer, across growth and reuse', () => {
    const writer = new ByteWriter(16);
    const taken: [Buffer, Buffer][] = [];
    for (let round = 0; round < 200; round++) {
      const length = (round * 37) % 300;
      const expected = Buffer.alloc(length, round & 0xff);
      writer.bytes(expected);
      const buffer = writer.take();
      expect(buffer.length).toBe(length);
      taken.push([buffer, expected]);
    }
    for (const [buffer, expected] of taken) expect(buffer.equals(expected)).toBe(true);
  });

  it('keeps untaken bytes when it grows, and supports patch, rewind and reset', () => {
    const writer = new ByteWriter(16);
    writer.u32(0);
    writer.bytes(Buffer.alloc(100, 9));
    writer.patchU32(0, 100);
    expect(writer.position).toBe(104);
    writer.rewind(4);
    writer.u8(1);
    const bytes = writer.take();
    expect(bytes.toString('hex')).toBe('0000006401');
    writer.u8(5);
    writer.reset();
    expect(writer.position).toBe(0);
    expect(writer.take().length).toBe(0);
    expect(() => writer.rewind(1)).toThrow(RangeError);
    expect(() => writer.patchU32(0, 1)).toThrow(RangeError);
    expect(() => new ByteWriter(0)).toThrow(RangeError);
  });

  it('encodes a field table standalone, length prefix included', () => {
    expect(encodeFieldTable({ a: true }).toString('hex')).toBe('00000004' + '0161' + '74' + '01');
  });
});
