// Property tests for the method codecs: every method in METHOD_IDS round-trips arbitrary field
// values through encodeMethodFrame, the FrameReader and decodeMethod; amqplib's independent codec
// agrees in both directions; the hand-written frame encoders match the generated codecs; and
// hostile payloads only ever fail with ConnectionError.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from './byte-writer.js';
import { FRAME_ERROR, NOT_IMPLEMENTED } from './constants.js';
import { ConnectionError, truncateReplyText } from './errors.js';
import type { FieldTable, FieldValue } from './field-table.js';
import { FrameReader } from './frame-reader.js';
import { encodeBasicAckFrame, encodeBasicDeliverFrame, encodeBasicNackFrame } from './hot-path.js';
import {
  decodeMethod,
  encodeMethodFrame,
  encodeMethodPayload,
  METHOD_FIELDS,
  METHOD_IDS,
  methodKey,
  type AmqpMethod,
  type AmqpMethodName,
  type MethodFieldInfo,
} from './methods.js';

const METHOD_NAMES = Object.keys(METHOD_IDS) as AmqpMethodName[];

const shortString = fc
  .oneof(fc.string({ maxLength: 255 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
  .filter((value) => Buffer.byteLength(value) <= 255);
const replyText = fc.oneof(
  shortString,
  fc.string({ unit: 'grapheme', minLength: 80, maxLength: 300 }),
);
// amqplib reads a nested object with a '!' key as an explicitly typed value, so avoid that key.
const key = fc.string({ maxLength: 10 }).filter((name) => name !== '__proto__' && name !== '!');

// Table values that amqplib also encodes and decodes without loss, so both codecs can be compared.
const { table } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }).filter((value) => !Number.isInteger(value)),
    fc.string({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 10 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(null),
    tie('table'),
    fc.array(tie('value'), { maxLength: 3 }),
  ),
  table: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
}));

function fieldArbitrary(field: MethodFieldInfo): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return fc.integer({ min: 0, max: 0xff });
    case 'short':
      return fc.integer({ min: 0, max: 0xffff });
    case 'long':
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case 'longlong':
    case 'timestamp':
      return fc.maxSafeNat();
    case 'shortstr':
      return field.domain === 'reply-text' ? replyText : shortString;
    case 'longstr':
      return fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes));
    case 'table':
      return table;
  }
}

function methodArbitrary(name: AmqpMethodName): fc.Arbitrary<AmqpMethod> {
  const fields = Object.fromEntries(
    METHOD_FIELDS[name].map((field) => [field.name, fieldArbitrary(field)]),
  );
  return fc.record(fields).map((values) => ({ method: name, ...values }) as AmqpMethod);
}

const anyMethod = fc.constantFrom(...METHOD_NAMES).chain(methodArbitrary);

/** What decoding gives back: the method itself, with reply texts cut as the encoder cuts them. */
function expected(method: AmqpMethod): AmqpMethod {
  if ('replyText' in method) return { ...method, replyText: truncateReplyText(method.replyText) };
  return method;
}

function payloadOf(method: AmqpMethod): Buffer {
  const writer = new ByteWriter(64);
  encodeMethodPayload(writer, method);
  return writer.take();
}

function decodeStream(chunks: Buffer[]): { channel: number; method: AmqpMethod }[] {
  const decoded: { channel: number; method: AmqpMethod }[] = [];
  const reader = new FrameReader(1 << 20);
  for (const chunk of chunks) {
    reader.push(chunk, {
      onFrame(type, channel, buf, start, end) {
        expect(type).toBe(1);
        decoded.push({ channel, method: decodeMethod(buf, start, end) });
      },
    });
  }
  return decoded;
}

function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

describe('method codecs', () => {
  it.each(METHOD_NAMES)('%s round-trips arbitrary fields through the frame reader', (name) => {
    fc.assert(
      fc.property(methodArbitrary(name), fc.integer({ min: 0, max: 0xffff }), (method, channel) => {
        const writer = new ByteWriter(32);
        encodeMethodFrame(writer, channel, method);
        expect(decodeStream([writer.take()])).toEqual([{ channel, method: expected(method) }]);
      }),
      { numRuns: 40 },
    );
  });

  it('decodes a stream of mixed methods split at arbitrary points', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(anyMethod, fc.integer({ min: 0, max: 0xffff })), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (methods, cuts) => {
          const writer = new ByteWriter(16);
          for (const [method, channel] of methods) encodeMethodFrame(writer, channel, method);
          const decoded = decodeStream(split(writer.take(), cuts));
          expect(decoded).toEqual(
            methods.map(([method, channel]) => ({ channel, method: expected(method) })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses every truncation and any trailing byte with FRAME_ERROR naming the method', () => {
    fc.assert(
      fc.property(anyMethod, fc.integer({ min: 0, max: 255 }), (method, extra) => {
        const payload = payloadOf(method);
        const { classId, methodId } = METHOD_IDS[method.method];
        for (let length = 4; length < payload.length; length++) {
          expect(() => decodeMethod(payload, 0, length)).toThrow(
            expect.objectContaining({ replyCode: FRAME_ERROR, classId, methodId }),
          );
        }
        const extended = Buffer.concat([payload, Buffer.from([extra])]);
        expect(() => decodeMethod(extended, 0, extended.length)).toThrow(
          expect.objectContaining({
            replyCode: FRAME_ERROR,
            replyText: `FRAME_ERROR - cannot decode ${method.method}: 1 trailing bytes`,
          }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('throws nothing but ConnectionError on hostile payloads', () => {
    expect.hasAssertions();
    const knownKey = fc.constantFrom(...METHOD_NAMES).map((name) => {
      const { classId, methodId } = METHOD_IDS[name];
      return Buffer.from([classId >> 8, classId & 0xff, methodId >> 8, methodId & 0xff]);
    });
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc
        .tuple(knownKey, fc.uint8Array({ maxLength: 64 }))
        .map(([prefix, rest]) => Buffer.concat([prefix, rest])),
      fc
        .tuple(
          anyMethod,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        )
        .map(([method, flips]) => {
          const payload = Buffer.from(payloadOf(method));
          for (const [position, octet] of flips) payload[position % payload.length] = octet;
          return payload;
        }),
    );
    fc.assert(
      fc.property(hostile, (payload) => {
        try {
          decodeMethod(payload, 0, payload.length);
        } catch (error) {
          expect(error).toBeInstanceOf(ConnectionError);
          expect([FRAME_ERROR, NOT_IMPLEMENTED]).toContain((error as ConnectionError).replyCode);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never aliases the input buffer in decoded methods', () => {
    const method: AmqpMethod = {
      method: 'connection.start-ok',
      clientProperties: { product: 'x', bytes: Buffer.from([1, 2]) },
      mechanism: 'PLAIN',
      response: Buffer.from('\0guest\0guest'),
      locale: 'en_US',
    };
    const payload = payloadOf(method);
    const decoded = decodeMethod(payload, 0, payload.length);
    payload.fill(0);
    expect(decoded).toEqual(method);
  });
});

describe('hand-written hot paths match the generated codecs', () => {
  it('basic.deliver, basic.ack and basic.nack frames are byte-identical', () => {
    fc.assert(
      fc.property(
        methodArbitrary('basic.deliver'),
        methodArbitrary('basic.ack'),
        methodArbitrary('basic.nack'),
        fc.integer({ min: 0, max: 0xffff }),
        (deliver, ack, nack, channel) => {
          if (deliver.method !== 'basic.deliver') return;
          if (ack.method !== 'basic.ack' || nack.method !== 'basic.nack') return;
          const generated = new ByteWriter();
          const handWritten = new ByteWriter();
          encodeMethodFrame(generated, channel, deliver);
          encodeMethodFrame(generated, channel, ack);
          encodeMethodFrame(generated, channel, nack);
          encodeBasicDeliverFrame(
            handWritten,
            channel,
            deliver.consumerTag,
            deliver.deliveryTag,
            deliver.redelivered,
            deliver.exchange,
            deliver.routingKey,
          );
          encodeBasicAckFrame(handWritten, channel, ack.deliveryTag, ack.multiple);
          encodeBasicNackFrame(handWritten, channel, nack.deliveryTag, nack.multiple, nack.requeue);
          expect(handWritten.take()).toEqual(generated.take());
        },
      ),
    );
  });
});

// amqplib's generated codec (lib/defs.js) is an independent reading of the same spec.
interface AmqplibDefinitions {
  decode(id: number, args: Buffer): Record<string, unknown>;
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  info(id: number): { name: string } | undefined;
}
// The package exports only its API, so load the codec by path next to the resolved entry point.
const require = createRequire(import.meta.url);
const amqplib = require(
  join(dirname(require.resolve('amqplib')), 'lib', 'defs.js'),
) as AmqplibDefinitions;
// RabbitMQ's JSON (which amqplib follows) spells no-wait as nowait.
const amqplibName = (name: string): string => (name === 'noWait' ? 'nowait' : name);

function hasNumberAmqplibCannotEncode(value: unknown): boolean {
  if (typeof value === 'number') {
    return !Number.isFinite(value) || (!Number.isInteger(value) && Math.abs(value) >= 2 ** 50);
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return false;
  return Object.values(value as Record<string, unknown>).some(hasNumberAmqplibCannotEncode);
}

describe('agreement with amqplib', () => {
  it.each(METHOD_NAMES)('%s encodes and decodes the same as amqplib', (name) => {
    const { classId, methodId } = METHOD_IDS[name];
    const id = methodKey(classId, methodId);
    fc.assert(
      fc.property(methodArbitrary(name), (generated) => {
        const method = expected(generated);
        const fields = Object.fromEntries(
          METHOD_FIELDS[name].map((field) => [
            amqplibName(field.name),
            (method as unknown as Record<string, unknown>)[field.name],
          ]),
        );
        const payload = payloadOf(method);
        const theirs = amqplib.decode(id, payload.subarray(4));
        expect(
          Object.fromEntries(Object.keys(fields).map((field) => [field, theirs[field]])),
        ).toEqual(fields);

        // amqplib cannot encode infinities, NaN, or fractions at or beyond 2^50 (it takes those
        // for integers and turns them into BigInt).
        fc.pre(!hasNumberAmqplibCannotEncode(fields));
        const frame = amqplib.encodeMethod(id, 0, fields);
        expect(decodeMethod(frame, 7, frame.length - 1)).toEqual(method);
      }),
      { numRuns: 25 },
    );
  });
});
