// Golden byte sequences for method frames, built by hand from the spec rather than by our encoder,
// plus the dispatch tables and the error replies for unknown and malformed methods.

import { describe, expect, it } from 'vitest';
import { ByteReader } from './byte-reader.js';
import { ByteWriter } from './byte-writer.js';
import {
  CLASS_BASIC,
  CONNECTION_FORCED,
  FRAME_ERROR,
  INTERNAL_ERROR,
  NOT_IMPLEMENTED,
} from './constants.js';
import { ConnectionError } from './errors.js';
import {
  decodeMethod,
  encodeMethodFrame,
  METHOD_BASIC_PUBLISH,
  METHOD_FIELDS,
  METHOD_IDS,
  methodName,
  type AmqpMethod,
} from './methods.js';

const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];
const octets = (...values: number[]): number[] => values;
const ids = (classId: number, methodId: number): number[] => [0, classId, 0, methodId];
const u32 = (value: number): number[] => [
  value >>> 24,
  (value >>> 16) & 255,
  (value >>> 8) & 255,
  value & 255,
];
const shortString = (text: string): number[] => [text.length, ...ascii(text)];
const longString = (text: string): number[] => [...u32(text.length), ...ascii(text)];
const frame = (channel: number, payload: number[]): Buffer =>
  Buffer.from([1, channel >> 8, channel & 255, ...u32(payload.length), ...payload, 0xce]);

function encode(channel: number, method: AmqpMethod): Buffer {
  const writer = new ByteWriter();
  encodeMethodFrame(writer, channel, method);
  return writer.take();
}

function decodeFrame(bytes: Buffer): AmqpMethod {
  return decodeMethod(bytes, 7, bytes.length - 1);
}

describe('golden method frames', () => {
  it('connection.start as a broker sends it', () => {
    const capabilities = [...shortString('publisher_confirms'), ...ascii('t'), 1];
    const serverProperties = [
      ...shortString('product'),
      ...ascii('S'),
      ...longString('RabbitMQ'),
      ...shortString('capabilities'),
      ...ascii('F'),
      ...u32(capabilities.length),
      ...capabilities,
    ];
    const bytes = frame(0, [
      ...ids(10, 10), // connection.start
      ...octets(0, 9), // version 0-9
      ...u32(serverProperties.length),
      ...serverProperties,
      ...longString('PLAIN AMQPLAIN'),
      ...longString('en_US'),
    ]);
    expect(bytes.length).toBe(105);
    const method: AmqpMethod = {
      method: 'connection.start',
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: { product: 'RabbitMQ', capabilities: { publisher_confirms: true } },
      mechanisms: Buffer.from('PLAIN AMQPLAIN'),
      locales: Buffer.from('en_US'),
    };
    expect(encode(0, method)).toEqual(bytes);
    expect(decodeFrame(bytes)).toEqual(method);
  });

  it('basic.publish with mandatory set', () => {
    const bytes = frame(1, [
      ...ids(60, 40), // basic.publish
      ...octets(0, 0), // reserved ticket
      ...shortString('amq.direct'),
      ...shortString('key'),
      0b01, // mandatory, not immediate
    ]);
    expect(bytes.toString('hex')).toBe(
      '01000100000016003c002800000a616d712e646972656374036b657901ce',
    );
    const method: AmqpMethod = {
      method: 'basic.publish',
      exchange: 'amq.direct',
      routingKey: 'key',
      mandatory: true,
      immediate: false,
    };
    expect(encode(1, method)).toEqual(bytes);
    expect(decodeFrame(bytes)).toEqual(method);
  });

  it('basic.deliver with a 64-bit delivery tag', () => {
    const bytes = frame(7, [
      ...ids(60, 60), // basic.deliver
      ...shortString('ctag'),
      ...octets(0, 0, 0, 1, 0, 0, 0, 2), // delivery tag 2^32 + 2
      1, // redelivered
      ...shortString(''),
      ...shortString('rk'),
    ]);
    const method: AmqpMethod = {
      method: 'basic.deliver',
      consumerTag: 'ctag',
      deliveryTag: 2 ** 32 + 2,
      redelivered: true,
      exchange: '',
      routingKey: 'rk',
    };
    expect(encode(7, method)).toEqual(bytes);
    expect(decodeFrame(bytes)).toEqual(method);
  });

  it('queue.declare packs five bits into one octet and ends with the table', () => {
    const bytes = frame(1, [
      ...ids(50, 10), // queue.declare
      ...octets(0, 0), // reserved ticket
      ...shortString('q'),
      0b10010, // durable, no-wait
      ...u32(17),
      ...shortString('x-max-priority'),
      ...ascii('b'),
      10, // amqplib sends small integers as signed octets
    ]);
    expect(decodeFrame(bytes)).toEqual({
      method: 'queue.declare',
      queue: 'q',
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      noWait: true,
      arguments: { 'x-max-priority': 10 },
    });
  });

  it('connection.close cuts a long reply text as RabbitMQ does', () => {
    const text = `CONNECTION_FORCED - ${'x'.repeat(300)}`;
    const bytes = encode(0, {
      method: 'connection.close',
      replyCode: CONNECTION_FORCED,
      replyText: text,
      classId: 0,
      methodId: 0,
    });
    const decoded = decodeFrame(bytes);
    expect(decoded).toMatchObject({ replyCode: 320, classId: 0, methodId: 0 });
    const replyText = (decoded as { replyText: string }).replyText;
    expect(replyText).toBe(text.slice(0, 252) + '...');
    expect(bytes.length).toBe(8 + 4 + 2 + 1 + 255 + 4);
  });
});

describe('method dispatch tables', () => {
  it('cover every spec method plus the RabbitMQ extensions', () => {
    const names = Object.keys(METHOD_IDS);
    expect(names).toHaveLength(64);
    for (const name of [
      'confirm.select',
      'confirm.select-ok',
      'exchange.bind',
      'exchange.unbind-ok',
      'basic.nack',
      'connection.blocked',
      'connection.unblocked',
      'connection.update-secret',
      'connection.update-secret-ok',
    ]) {
      expect(names).toContain(name);
    }
    expect(METHOD_IDS['exchange.unbind-ok']).toEqual({
      classId: 40,
      methodId: 51,
      isSynchronous: true,
      hasContent: false,
    });
    expect(METHOD_IDS['basic.publish']).toEqual({
      classId: CLASS_BASIC,
      methodId: 40,
      isSynchronous: false,
      hasContent: true,
    });
    expect(METHOD_BASIC_PUBLISH).toBe(0x003c0028);
    expect(METHOD_FIELDS['confirm.select']).toEqual([
      { name: 'nowait', kind: 'bit', domain: 'bit' },
    ]);
    expect(METHOD_FIELDS['connection.open']).toEqual([
      { name: 'virtualHost', kind: 'shortstr', domain: 'path' },
    ]);
    for (const [name, info] of Object.entries(METHOD_IDS)) {
      expect(methodName(info.classId, info.methodId)).toBe(name);
    }
    expect(methodName(60, 41)).toBeUndefined();
  });
});

describe('decodeMethod errors', () => {
  it('answers an unknown method with NOT_IMPLEMENTED carrying its ids', () => {
    const payload = Buffer.from([0, 30, 0, 10]); // access.request, which 0-9-1 dropped
    expect(() => decodeMethod(payload, 0, 4)).toThrow(
      expect.objectContaining({
        replyCode: NOT_IMPLEMENTED,
        replyText: 'NOT_IMPLEMENTED - unknown method id 10 in class 30',
        classId: 30,
        methodId: 10,
      }),
    );
  });

  it('answers a malformed payload with FRAME_ERROR naming the method', () => {
    const payload = Buffer.from([0, 60, 0, 10, 0, 0, 0, 0, 0, 1]); // basic.qos without its bits
    let caught: unknown;
    try {
      decodeMethod(payload, 0, payload.length);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConnectionError);
    expect(caught).toMatchObject({
      replyCode: FRAME_ERROR,
      replyText: 'FRAME_ERROR - cannot decode basic.qos: needs 1 bytes at offset 10, has 0',
      classId: 60,
      methodId: 10,
    });
    expect(() => decodeMethod(Buffer.from([0, 60]), 0, 2)).toThrow(/has no class and method id/);
  });

  it('checks UTF-8 in shortstr fields except in content methods, like RabbitMQ', () => {
    const invalid = [0xc3, 0x28];
    const declare = Buffer.from([0, 50, 0, 10, 0, 0, 2, ...invalid, 0, 0, 0, 0, 0]);
    expect(() => decodeMethod(declare, 0, declare.length)).toThrow(/Malformed UTF-8 in shortstr/);
    const publish = Buffer.from([0, 60, 0, 40, 0, 0, 0, 2, ...invalid, 0]);
    expect(decodeMethod(publish, 0, publish.length)).toMatchObject({ routingKey: '\ufffd(' });
  });

  it('rounds a delivery tag beyond 2^53 so it matches no delivery', () => {
    const ack = Buffer.from([0, 60, 0, 80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
    const decoded = decodeMethod(ack, 0, ack.length);
    expect(decoded).toMatchObject({ method: 'basic.ack', deliveryTag: 2 ** 64 });
    expect(Number.isSafeInteger((decoded as { deliveryTag: number }).deliveryTag)).toBe(false);
  });

  it('uses the reader it is given', () => {
    const reader = new ByteReader();
    const payload = Buffer.from([0, 90, 0, 10]);
    expect(decodeMethod(payload, 0, 4, reader)).toEqual({ method: 'tx.select' });
    expect(reader.contextName).toBe('tx.select');
  });
});

describe('encodeMethodFrame errors', () => {
  it('rewinds the writer when a field cannot be encoded', () => {
    const writer = new ByteWriter(16);
    encodeMethodFrame(writer, 1, { method: 'basic.qos-ok' });
    const before = writer.position;
    expect(() =>
      encodeMethodFrame(writer, 1, {
        method: 'basic.consume-ok',
        consumerTag: 'x'.repeat(256),
      }),
    ).toThrow(expect.objectContaining({ replyCode: INTERNAL_ERROR }));
    expect(writer.position).toBe(before);
    expect(() =>
      encodeMethodFrame(writer, 1, { method: 'basic.ack', deliveryTag: -1, multiple: false }),
    ).toThrow(/cannot encode delivery-tag -1/);
    expect(writer.position).toBe(before);
    expect(decodeFrame(writer.take())).toEqual({ method: 'basic.qos-ok' });
  });
});
