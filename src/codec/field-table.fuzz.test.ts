// Property tests for field tables: every type and nesting round-trips, lossless decoding gives
// back the exact bytes, and arbitrary bytes only ever fail with ConnectionError(FRAME_ERROR).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, decodeFieldTable } from './byte-reader.js';
import { ByteWriter, encodeFieldTable } from './byte-writer.js';
import { FRAME_ERROR, INTERNAL_ERROR } from './constants.js';
import { ConnectionError } from './errors.js';
import {
  Decimal,
  FIELD_TABLE_DEPTH_MAX,
  fieldTablesEquivalent,
  Timestamp,
  TypedField,
  type FieldTable,
  type FieldValue,
} from './field-table.js';

/** A value to encode and the value plain decoding must give back. */
interface Sample {
  encoded: FieldValue;
  plain: FieldValue;
}

const int64 = fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n);
const plainInt64 = (value: bigint): number | bigint =>
  value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const key = fc
  .oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }))
  .filter((candidate) => Buffer.byteLength(candidate) <= 255);

function sample(encoded: FieldValue, plain: FieldValue = encoded): Sample {
  return { encoded, plain };
}

const scalar: fc.Arbitrary<Sample> = fc.oneof(
  fc.boolean().map((value) => sample(value)),
  fc.integer({ min: -128, max: 127 }).map((value) => sample(new TypedField('b', value), value)),
  fc.integer({ min: 0, max: 255 }).map((value) => sample(new TypedField('B', value), value)),
  fc.integer({ min: -32768, max: 32767 }).map((value) => sample(new TypedField('s', value), value)),
  fc.integer({ min: 0, max: 65535 }).map((value) => sample(new TypedField('u', value), value)),
  fc.integer().map((value) => sample(value)),
  fc
    .integer({ min: 0, max: 0xffff_ffff })
    .map((value) => sample(new TypedField('i', value), value)),
  int64.map((value) => sample(new TypedField('l', value), plainInt64(value))),
  int64.map((value) => sample(new TypedField('L', value), plainInt64(value))),
  int64.map((value) => sample(value, plainInt64(value))),
  fc.maxSafeInteger().map((value) => sample(value)),
  fc.float().map((value) => sample(new TypedField('f', value), Math.fround(value))),
  fc.double().map((value) => sample(new TypedField('d', value), value)),
  fc
    .double()
    .filter((value) => !Number.isInteger(value))
    .map((value) => sample(value)),
  fc
    .record({
      scale: fc.integer({ min: 0, max: 255 }),
      value: fc.integer({ min: 0, max: 0xffff_ffff }),
    })
    .map(({ scale, value }) => sample(new Decimal(scale, value))),
  text.map((value) => sample(value)),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => sample(Buffer.from(bytes))),
  fc.maxSafeNat().map((seconds) => sample(new Timestamp(seconds))),
  fc.constant(sample(null)),
);

function buildTable(entries: [string, FieldValue][]): FieldTable {
  const table: FieldTable = {};
  for (const [name, value] of entries) {
    Object.defineProperty(table, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return table;
}

const { value: anySample } = fc.letrec<{ value: Sample; table: Sample; array: Sample }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    tie('table'),
    tie('array'),
  ),
  table: fc
    .uniqueArray(fc.tuple(key, tie('value')), { maxLength: 5, selector: ([name]) => name })
    .map((entries) => ({
      encoded: buildTable(entries.map(([name, entry]) => [name, entry.encoded])),
      plain: buildTable(entries.map(([name, entry]) => [name, entry.plain])),
    })),
  array: fc.array(tie('value'), { maxLength: 5 }).map((entries) => ({
    encoded: entries.map((entry) => entry.encoded),
    plain: entries.map((entry) => entry.plain),
  })),
}));

const tableSample: fc.Arbitrary<{ encoded: FieldTable; plain: FieldTable }> = fc
  .uniqueArray(fc.tuple(key, anySample), { maxLength: 8, selector: ([name]) => name })
  .map((entries) => ({
    encoded: buildTable(entries.map(([name, entry]) => [name, entry.encoded])),
    plain: buildTable(entries.map(([name, entry]) => [name, entry.plain])),
  }));

// What plain encoding then decoding gives for a plain value: -0 becomes I 0, and an integral
// double beyond 2^53 becomes l, which decodes as a bigint.
function normalizePlain(value: FieldValue): FieldValue {
  if (Object.is(value, -0)) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return Math.abs(value) < 2 ** 63 ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(normalizePlain);
  if (
    value !== null &&
    typeof value === 'object' &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Decimal) &&
    !(value instanceof Timestamp) &&
    !(value instanceof TypedField)
  ) {
    return buildTable(Object.entries(value).map(([name, entry]) => [name, normalizePlain(entry)]));
  }
  return value;
}

function expectOnlyFrameErrors(run: () => void): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).replyCode).toBe(FRAME_ERROR);
  }
}

describe('field table round trips', () => {
  it('decodes every type and nesting to the expected plain values', () => {
    fc.assert(
      fc.property(tableSample, ({ encoded, plain }) => {
        const bytes = encodeFieldTable(encoded);
        expect(decodeFieldTable(bytes)).toEqual(plain);
      }),
      { numRuns: 300 },
    );
  });

  it('re-encodes a lossless decoding to the same bytes', () => {
    fc.assert(
      fc.property(tableSample, ({ encoded }) => {
        const bytes = encodeFieldTable(encoded);
        const lossless = decodeFieldTable(bytes, 0, bytes.length, true);
        expect(encodeFieldTable(lossless).equals(bytes)).toBe(true);
        expect(fieldTablesEquivalent(lossless, decodeFieldTable(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips plain values through the default encoding', () => {
    fc.assert(
      fc.property(tableSample, ({ plain }) => {
        const expected = normalizePlain(plain) as FieldTable;
        expect(decodeFieldTable(encodeFieldTable(plain))).toEqual(expected);
        expect(fieldTablesEquivalent(plain, decodeFieldTable(encodeFieldTable(plain)))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('skips exactly the bytes it decodes', () => {
    fc.assert(
      fc.property(tableSample, fc.uint8Array({ maxLength: 4 }), ({ encoded }, tail) => {
        const bytes = Buffer.concat([encodeFieldTable(encoded), tail]);
        const reader = new ByteReader(bytes);
        reader.skipTable();
        expect(reader.remaining).toBe(tail.length);
      }),
    );
  });
});

describe('field table decoding of hostile bytes', () => {
  it('throws nothing but ConnectionError(FRAME_ERROR) on arbitrary bytes', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, isLossless) => {
        const buffer = Buffer.from(bytes);
        expectOnlyFrameErrors(() => decodeFieldTable(buffer, 0, buffer.length, isLossless));
        expectOnlyFrameErrors(() => new ByteReader(buffer).skipTable());
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees between decoding and skipping on corrupted encodings', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(
        tableSample,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        ({ encoded }, flips, cut) => {
          const bytes = Buffer.from(encodeFieldTable(encoded));
          for (const [position, octet] of flips) {
            if (bytes.length > 0) bytes[position % bytes.length] = octet;
          }
          const corrupted = bytes.subarray(0, bytes.length - (cut % 3));
          let decodeError: unknown;
          let skipError: unknown;
          try {
            decodeFieldTable(corrupted);
          } catch (error) {
            decodeError = error;
          }
          try {
            const reader = new ByteReader(corrupted);
            reader.skipTable();
            reader.expectEnd();
          } catch (error) {
            skipError = error;
          }
          for (const error of [decodeError, skipError]) {
            if (error !== undefined) {
              expect(error).toBeInstanceOf(ConnectionError);
              expect((error as ConnectionError).replyCode).toBe(FRAME_ERROR);
            }
          }
          expect(decodeError === undefined).toBe(skipError === undefined);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects an unknown type tag', () => {
    const bytes = Buffer.from([0, 0, 0, 3, 1, 0x6b, 0x7a]);
    expect(() => decodeFieldTable(bytes)).toThrow(/unknown field value type 'z'/);
  });

  it('rejects a value that runs past its table into the enclosing bytes', () => {
    // The table claims 7 bytes; its S value claims 4 bytes but only 1 is inside the table.
    const bytes = Buffer.from([0, 0, 0, 7, 1, 0x6b, 0x53, 0, 0, 0, 4, 0x61, 0x62, 0x63]);
    const reader = new ByteReader(bytes);
    expect(() => reader.table()).toThrow(ConnectionError);
  });

  it('limits nesting depth in both directions', () => {
    let nested: FieldTable = {};
    for (let depth = 0; depth < FIELD_TABLE_DEPTH_MAX; depth++) nested = { inner: nested };
    const deepest = encodeFieldTable(nested);
    expect(decodeFieldTable(deepest)).toEqual(nested);

    // One level more, built by hand since the encoder refuses it: tables at depths 0 to 65.
    const writer = new ByteWriter();
    const sizes: number[] = [];
    for (let depth = 0; depth <= FIELD_TABLE_DEPTH_MAX + 1; depth++) {
      sizes.push(writer.position);
      writer.u32(0);
      if (depth <= FIELD_TABLE_DEPTH_MAX) {
        writer.shortString('n');
        writer.u8(0x46);
      }
    }
    for (const at of sizes.reverse()) writer.patchU32(at, writer.position - at - 4);
    expect(() => decodeFieldTable(writer.take())).toThrow(/nested deeper than 64/);

    nested = { inner: nested };
    expect(() => encodeFieldTable(nested)).toThrow(ConnectionError);
    const cyclic: FieldTable = {};
    cyclic.self = cyclic;
    expect(() => encodeFieldTable(cyclic)).toThrow(/nested deeper than 64 levels/);
  });
});

describe('field table encoding conventions', () => {
  const tagOf = (value: FieldValue): string => {
    const bytes = encodeFieldTable({ k: value });
    return String.fromCharCode(bytes[6]!);
  };

  it('picks the tags RabbitMQ clients commonly send', () => {
    expect(tagOf(true)).toBe('t');
    expect(tagOf(5)).toBe('I');
    expect(tagOf(-2147483648)).toBe('I');
    expect(tagOf(2147483648)).toBe('l');
    expect(tagOf(2 ** 60)).toBe('l');
    expect(tagOf(1.5)).toBe('d');
    expect(tagOf(2 ** 64)).toBe('d');
    expect(tagOf(5n)).toBe('l');
    expect(tagOf('text')).toBe('S');
    expect(tagOf(Buffer.from([1]))).toBe('x');
    expect(tagOf(null)).toBe('V');
    expect(tagOf([1])).toBe('A');
    expect(tagOf({ a: 1 })).toBe('F');
    expect(tagOf(new Decimal(2, 314))).toBe('D');
    expect(tagOf(new Timestamp(1))).toBe('T');
    expect(tagOf(new TypedField('u', 7))).toBe('u');
  });

  it('refuses values that do not fit their declared tag', () => {
    const cases: FieldValue[] = [
      new TypedField('b', 128),
      new TypedField('B', -1),
      new TypedField('I', 1.5),
      new TypedField('l', 2n ** 63n),
      new TypedField('T', -1),
      new TypedField('S', 5),
      2n ** 64n,
      new Decimal(256, 1),
    ];
    for (const value of cases) {
      try {
        encodeFieldTable({ k: value });
        expect.unreachable(`encoded ${String(value)}`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConnectionError);
        expect((error as ConnectionError).replyCode).toBe(INTERNAL_ERROR);
      }
    }
  });

  it('keeps a __proto__ key as data', () => {
    const table = buildTable([['__proto__', 'value']]);
    const decoded = decodeFieldTable(encodeFieldTable(table));
    expect(Object.keys(decoded)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('copies bytes out of the input', () => {
    const bytes = encodeFieldTable({ b: Buffer.from([1, 2, 3]) });
    const decoded = decodeFieldTable(bytes);
    bytes.fill(0);
    expect(decoded.b).toEqual(Buffer.from([1, 2, 3]));
  });
});

describe('fieldTablesEquivalent', () => {
  it('compares numbers by value across widths and strings with S bytes', () => {
    expect(fieldTablesEquivalent({ a: 5 }, { a: new TypedField('b', 5) })).toBe(true);
    expect(fieldTablesEquivalent({ a: 5 }, { a: 5n })).toBe(true);
    expect(fieldTablesEquivalent({ a: 5 }, { a: 6 })).toBe(false);
    expect(fieldTablesEquivalent({ a: 'x' }, { a: new TypedField('S', Buffer.from('x')) })).toBe(
      true,
    );
    expect(fieldTablesEquivalent({ a: 'x' }, { a: 5 })).toBe(false);
    expect(fieldTablesEquivalent({ a: { b: [1, 'c'] } }, { a: { b: [1, 'c'] } })).toBe(true);
    expect(fieldTablesEquivalent({ a: { b: [1, 'c'] } }, { a: { b: [1] } })).toBe(false);
    expect(fieldTablesEquivalent({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(fieldTablesEquivalent({ a: null }, { b: null })).toBe(false);
    expect(fieldTablesEquivalent({ a: new Decimal(1, 2) }, { a: new Decimal(1, 2) })).toBe(true);
    expect(fieldTablesEquivalent({ a: new Decimal(1, 2) }, { a: new Decimal(2, 2) })).toBe(false);
    expect(fieldTablesEquivalent({ a: {} }, { a: [] })).toBe(false);
  });

  it('is reflexive and symmetric on arbitrary tables', () => {
    fc.assert(
      fc.property(tableSample, tableSample, (left, right) => {
        expect(fieldTablesEquivalent(left.encoded, left.plain)).toBe(true);
        expect(fieldTablesEquivalent(left.plain, right.plain)).toBe(
          fieldTablesEquivalent(right.plain, left.plain),
        );
      }),
    );
  });
});
