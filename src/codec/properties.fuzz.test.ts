// Property tests for basic properties and content headers: arbitrary property sets round-trip,
// the raw one-property readers agree with the full decode, and hostile bytes only ever fail with
// ConnectionError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFieldTable } from './byte-reader.js';
import { ByteWriter } from './byte-writer.js';
import { CLASS_BASIC, FRAME_ERROR, FRAME_HEADER, UNEXPECTED_FRAME } from './constants.js';
import { ConnectionError } from './errors.js';
import { Decimal, Timestamp, type FieldTable, type FieldValue } from './field-table.js';
import { FrameReader } from './frame-reader.js';
import {
  decodeContentHeader,
  decodeProperties,
  encodeContentHeaderFrame,
  encodeContentHeaderFrameWithProperties,
  encodeProperties,
  findHeadersRange,
  readDeliveryMode,
  readExpiration,
  readPriority,
  readTimestamp,
  readUserId,
  validateProperties,
  type BasicProperties,
} from './properties.js';

const shortString = fc
  .oneof(fc.string({ maxLength: 255 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
  .filter((value) => Buffer.byteLength(value) <= 255);
const key = fc.string({ maxLength: 10 });

// Values whose plain encoding decodes back to the same JS value.
const stableScalar: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double().filter((value) => !Number.isInteger(value)),
  fc.string({ maxLength: 30 }),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(null),
  fc.bigInt(2n ** 53n, 2n ** 63n - 1n),
  fc.nat().map((seconds) => new Timestamp(seconds)),
  fc.nat({ max: 255 }).map((scale) => new Decimal(scale, 12345)),
);
const { table: stableTable } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    stableScalar,
    tie('table'),
    fc.array(tie('value'), { maxLength: 3 }),
  ),
  table: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
}));

const properties: fc.Arbitrary<BasicProperties> = fc.record(
  {
    contentType: shortString,
    contentEncoding: shortString,
    headers: stableTable,
    deliveryMode: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortString,
    replyTo: shortString,
    expiration: shortString,
    messageId: shortString,
    timestamp: fc.maxSafeNat(),
    type: shortString,
    userId: shortString,
    appId: shortString,
    clusterId: shortString,
  },
  { requiredKeys: [] },
);

function encode(value: BasicProperties): Buffer {
  const writer = new ByteWriter(64);
  encodeProperties(writer, value);
  return writer.take();
}

function expectConnectionError(run: () => void, codes: number[] = [FRAME_ERROR]): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionError);
    expect(codes).toContain((error as ConnectionError).replyCode);
  }
}

describe('basic properties', () => {
  it('round-trip arbitrary property sets', () => {
    fc.assert(
      fc.property(properties, (value) => {
        const bytes = encode(value);
        expect(decodeProperties(bytes, 0, bytes.length)).toEqual(value);
        validateProperties(bytes, 0, bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it('raw readers agree with the full decode', () => {
    fc.assert(
      fc.property(properties, fc.uint8Array({ maxLength: 8 }), (value, padding) => {
        // Put the properties inside a larger buffer to check the readers honour start and end.
        const encoded = encode(value);
        const bytes = Buffer.concat([Buffer.from(padding), encoded, Buffer.from(padding)]);
        const start = padding.length;
        const end = start + encoded.length;
        expect(readDeliveryMode(bytes, start, end)).toBe(value.deliveryMode ?? 0);
        expect(readPriority(bytes, start, end)).toBe(value.priority ?? -1);
        expect(readExpiration(bytes, start, end)).toBe(value.expiration);
        expect(readUserId(bytes, start, end)).toBe(value.userId);
        expect(readTimestamp(bytes, start, end)).toBe(value.timestamp ?? -1);
        const range = findHeadersRange(bytes, start, end);
        if (value.headers === undefined) {
          expect(range).toBeNull();
        } else {
          expect(range).not.toBeNull();
          expect(decodeFieldTable(bytes, range![0], range![1])).toEqual(value.headers);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('hostile bytes only raise ConnectionError, and validated bytes read cleanly', () => {
    expect.hasAssertions();
    const flags = fc.integer({ min: 0, max: 0xffff });
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc
        .tuple(flags, fc.uint8Array({ maxLength: 64 }))
        .map(([word, rest]) => Buffer.concat([Buffer.from([word >> 8, word & 0xff]), rest])),
      fc
        .tuple(properties, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }))
        .map(([value, position, octet, cut]) => {
          const bytes = Buffer.from(encode(value));
          bytes[position % bytes.length] = octet;
          return bytes.subarray(0, Math.max(0, bytes.length - cut));
        }),
    );
    fc.assert(
      fc.property(hostile, (bytes) => {
        const end = bytes.length;
        let isValid = true;
        expectConnectionError(() => {
          try {
            validateProperties(bytes, 0, end);
          } catch (error) {
            isValid = false;
            throw error;
          }
        });
        expectConnectionError(() => decodeProperties(bytes, 0, end));
        const readers = [
          () => readDeliveryMode(bytes, 0, end),
          () => readPriority(bytes, 0, end),
          () => readExpiration(bytes, 0, end),
          () => readUserId(bytes, 0, end),
          () => readTimestamp(bytes, 0, end),
          () => findHeadersRange(bytes, 0, end),
        ];
        for (const read of readers) {
          if (isValid) read();
          else expectConnectionError(read);
        }
        if (isValid) {
          const decoded = decodeProperties(bytes, 0, end);
          expect(readDeliveryMode(bytes, 0, end)).toBe(decoded.deliveryMode ?? 0);
          expect(readExpiration(bytes, 0, end)).toBe(decoded.expiration);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('ignores the two low flag bits, as RabbitMQ does', () => {
    const bytes = encode({ deliveryMode: 2 });
    bytes[1] = bytes[1]! | 0x03;
    expect(decodeProperties(bytes, 0, bytes.length)).toEqual({ deliveryMode: 2 });
  });

  it('rejects trailing bytes after the last property', () => {
    const bytes = Buffer.concat([encode({ priority: 1 }), Buffer.from([0])]);
    expect(() => decodeProperties(bytes, 0, bytes.length)).toThrow(/1 trailing bytes/);
    expect(() => validateProperties(bytes, 0, bytes.length)).toThrow(ConnectionError);
  });
});

describe('content header frames', () => {
  it('round-trip through the frame reader, raw or encoded from properties', () => {
    fc.assert(
      fc.property(
        properties,
        fc.maxSafeNat(),
        fc.integer({ min: 0, max: 0xffff }),
        (value, bodySize, channel) => {
          const props = encode(value);
          const writer = new ByteWriter();
          encodeContentHeaderFrame(writer, channel, CLASS_BASIC, bodySize, props, 0, props.length);
          encodeContentHeaderFrameWithProperties(writer, channel, CLASS_BASIC, bodySize, value);
          const stream = writer.take();
          const frames: Buffer[] = [];
          new FrameReader(131072).push(stream, {
            onFrame(type, frameChannel, buf, start, end) {
              expect(type).toBe(FRAME_HEADER);
              expect(frameChannel).toBe(channel);
              const header = decodeContentHeader(buf, start, end);
              expect(header).toEqual({
                classId: CLASS_BASIC,
                bodySize,
                propertiesStart: start + 12,
              });
              expect(decodeProperties(buf, header.propertiesStart, end)).toEqual(value);
              frames.push(Buffer.from(buf.subarray(start - 7, end + 1)));
            },
          });
          expect(frames).toHaveLength(2);
          expect(frames[0]!.equals(frames[1]!)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reuses the target object when given one', () => {
    const target = { classId: 0, bodySize: 0, propertiesStart: 0 };
    const payload = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]);
    expect(decodeContentHeader(payload, 0, payload.length, target)).toBe(target);
    expect(target).toEqual({ classId: 60, bodySize: 5, propertiesStart: 12 });
  });

  it('rejects short payloads, non-zero weights and unsafe body sizes', () => {
    const short = Buffer.alloc(13);
    expect(() => decodeContentHeader(short, 0, 13)).toThrow(/shorter than 14/);
    const weighted = Buffer.from([0, 60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]);
    expect(() => decodeContentHeader(weighted, 0, 14)).toThrow(
      expect.objectContaining({ replyCode: UNEXPECTED_FRAME }),
    );
    const huge = Buffer.from([0, 60, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => decodeContentHeader(huge, 0, 14)).toThrow(
      expect.objectContaining({
        replyCode: FRAME_ERROR,
        replyText:
          'FRAME_ERROR - content body size 9007199254740992 exceeds maximum allowed size 9007199254740991',
      }),
    );
    const largestSafe = Buffer.from([
      0, 60, 0, 0, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
    ]);
    expect(decodeContentHeader(largestSafe, 0, 14).bodySize).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('matches a header frame built by hand from the spec', () => {
    // Channel 1, class 60, weight 0, body size 5, flags 0x9000 (content-type, delivery-mode),
    // content-type "text/plain", delivery-mode 2.
    const expected = Buffer.from([
      2,
      0,
      1,
      0,
      0,
      0,
      26,
      0,
      60,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      5,
      0x90,
      0x00,
      10,
      ...Buffer.from('text/plain'),
      2,
      0xce,
    ]);
    const writer = new ByteWriter();
    encodeContentHeaderFrameWithProperties(writer, 1, 60, 5, {
      contentType: 'text/plain',
      deliveryMode: 2,
    });
    expect(writer.take()).toEqual(expected);
  });
});
