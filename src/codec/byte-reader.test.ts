// Unit tests for ByteReader: every read checks the bytes left, errors name what was being decoded,
// and 64-bit values keep their documented number/bigint forms.

import { describe, expect, it } from 'vitest';
import { ByteReader, decodeFieldTable } from './byte-reader.js';
import { FRAME_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';

const readerOf = (...bytes: number[]): ByteReader => new ByteReader(Buffer.from(bytes));

describe('ByteReader', () => {
  it('reads integers big-endian', () => {
    const reader = readerOf(0xab, 0xab, 0xcd, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xfe);
    expect(reader.u8()).toBe(0xab);
    expect(reader.u16()).toBe(0xabcd);
    expect(reader.u32()).toBe(0xdeadbeef);
    expect(reader.i8()).toBe(-1);
    expect(reader.i16()).toBe(-2);
    reader.expectEnd();
  });

  it('reads 64-bit values as documented', () => {
    const max = [0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    expect(readerOf(...max).u64()).toBe(Number.MAX_SAFE_INTEGER);
    const all = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    expect(readerOf(...all).u64()).toBe(2 ** 64);
    expect(readerOf(...all).u64BigInt()).toBe(2n ** 64n - 1n);
    expect(readerOf(...all).i64()).toBe(-1);
    expect(readerOf(0xff, 0xe0, 0, 0, 0, 0, 0, 1).i64()).toBe(-(2 ** 53) + 1);
    expect(readerOf(0xff, 0xe0, 0, 0, 0, 0, 0, 0).i64()).toBe(-(2n ** 53n));
    expect(readerOf(0x80, 0, 0, 0, 0, 0, 0, 0).i64()).toBe(-(2n ** 63n));
    expect(readerOf(0x00, 0x20, 0, 0, 0, 0, 0, 0).i64()).toBe(2n ** 53n);
    expect(readerOf(0x80, 0, 0, 0, 0, 0, 0, 0).i64BigInt()).toBe(-(2n ** 63n));
  });

  it('reads strings, views and copies', () => {
    const bytes = Buffer.from([2, 0x68, 0x69, 0, 0, 0, 2, 0x6f, 0x6b]);
    const reader = new ByteReader(bytes);
    expect(reader.shortString()).toBe('hi');
    const view = reader.longString();
    expect(view.toString()).toBe('ok');
    expect(view.buffer).toBe(bytes.buffer);
    reader.reset(bytes, 3);
    const copy = reader.longStringCopy();
    bytes.fill(0);
    expect(copy.toString()).toBe('ok');
  });

  it('throws FRAME_ERROR naming the context on every overrun', () => {
    const reads: ((reader: ByteReader) => unknown)[] = [
      (reader) => reader.u8(),
      (reader) => reader.u16(),
      (reader) => reader.u32(),
      (reader) => reader.u64(),
      (reader) => reader.f32(),
      (reader) => reader.f64(),
      (reader) => reader.shortString(),
      (reader) => reader.longString(),
      (reader) => reader.table(),
      (reader) => reader.skip(2),
      (reader) => reader.bytes(2),
    ];
    for (const read of reads) {
      const reader = readerOf(5);
      reader.skip(1);
      reader.setContext('basic.qos', 60, 10);
      expect(() => read(reader)).toThrow(
        expect.objectContaining({ replyCode: FRAME_ERROR, classId: 60, methodId: 10 }),
      );
    }
    const reader = readerOf(9, 0x61);
    expect(() => reader.shortString()).toThrow(
      'FRAME_ERROR - cannot decode frame: needs 9 bytes at offset 1, has 1',
    );
    expect(() => readerOf(0xff, 0xff, 0xff, 0xff).longString()).toThrow(ConnectionError);
  });

  it('validates UTF-8 when asked', () => {
    expect(readerOf(3, 0xe2, 0x82, 0xac).shortStringValidated()).toBe('€');
    expect(() => readerOf(2, 0xc3, 0x28).shortStringValidated()).toThrow(/Malformed UTF-8/);
    expect(() => readerOf(3, 0xed, 0xa0, 0x80).shortStringValidated()).toThrow(/Malformed UTF-8/);
  });

  it('refuses a range outside its buffer and clears the context on reset', () => {
    const reader = new ByteReader();
    expect(() => reader.reset(Buffer.alloc(4), 2, 5)).toThrow(RangeError);
    reader.setContext('x', 1, 2);
    reader.reset(Buffer.alloc(1));
    expect([reader.contextName, reader.classId, reader.methodId]).toEqual(['frame', 0, 0]);
  });

  it('decodes a standalone table only when it fills the range', () => {
    expect(decodeFieldTable(Buffer.from([0, 0, 0, 0]))).toEqual({});
    expect(() => decodeFieldTable(Buffer.from([0, 0, 0, 0, 0]))).toThrow(/1 trailing bytes/);
  });
});
