// Property and unit tests for the lean client's input path, without a socket: deliveries and
// publisher confirms built with Warren's own encoders, cut into chunks at random points, reach
// the channel handlers whole, in order, with the send time from the body; broker closes and
// unexpected frames become BrokerErrors with RabbitMQ's reply text.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ByteWriter,
  CLASS_BASIC,
  encodeBasicAckFrame,
  encodeBasicDeliverFrame,
  encodeBasicNackFrame,
  encodeBodyFrames,
  encodeContentHeaderFrameWithProperties,
  encodeMethodFrame,
  FrameReader,
} from '../codec/index.js';
import { AmqpConnection, type ChannelHandler } from './amqp-connection.js';
import { parseAmqpUri } from './amqp-uri.js';
import type { BrokerError } from './errors.js';

type Event =
  | { kind: 'delivery'; channel: number; deliveryTag: number; sendTimeMs: number }
  | { kind: 'confirm'; channel: number; deliveryTag: number; isMultiple: boolean; isNack: boolean };

class RecordingHandler implements ChannelHandler {
  constructor(
    private readonly channel: number,
    private readonly events: Event[],
  ) {}
  onDelivery(deliveryTag: number, sendTimeMs: number): void {
    this.events.push({ kind: 'delivery', channel: this.channel, deliveryTag, sendTimeMs });
  }
  onConfirm(deliveryTag: number, isMultiple: boolean, isNack: boolean): void {
    this.events.push({ kind: 'confirm', channel: this.channel, deliveryTag, isMultiple, isNack });
  }
}

const FRAME_MAX_BYTES = 4096;

function connectionWithHandlers(events: Event[]): AmqpConnection {
  const connection = new AmqpConnection(parseAmqpUri('amqp://127.0.0.1:1'), 2, 'test');
  connection.setHandler(1, new RecordingHandler(1, events));
  connection.setHandler(2, new RecordingHandler(2, events));
  return connection;
}

function encodeEvent(writer: ByteWriter, event: Event, bodyBytes: number): void {
  if (event.kind === 'confirm') {
    if (event.isNack) {
      encodeBasicNackFrame(writer, event.channel, event.deliveryTag, event.isMultiple, false);
    } else encodeBasicAckFrame(writer, event.channel, event.deliveryTag, event.isMultiple);
    return;
  }
  encodeBasicDeliverFrame(writer, event.channel, 'amq.ctag-x', event.deliveryTag, false, '', 'q');
  encodeContentHeaderFrameWithProperties(writer, event.channel, CLASS_BASIC, bodyBytes, {
    deliveryMode: 2,
  });
  const body = Buffer.alloc(bodyBytes, 7);
  body.writeDoubleBE(event.sendTimeMs, 0);
  encodeBodyFrames(writer, event.channel, body, 0, bodyBytes, FRAME_MAX_BYTES);
}

const eventArbitrary: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    kind: fc.constant('delivery' as const),
    channel: fc.integer({ min: 1, max: 2 }),
    deliveryTag: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(2 ** 40 + 3)),
    sendTimeMs: fc.double({ min: 1e12, max: 2e12, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('confirm' as const),
    channel: fc.integer({ min: 1, max: 2 }),
    deliveryTag: fc.integer({ min: 1, max: 2 ** 40 }),
    isMultiple: fc.boolean(),
    isNack: fc.boolean(),
  }),
);

describe('AmqpConnection input', () => {
  it('hands every delivery and confirm to its channel, whatever the chunk splits', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(eventArbitrary, fc.integer({ min: 8, max: 10_000 })), {
          maxLength: 30,
        }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 20 }),
        (eventsWithSizes, cuts) => {
          const writer = new ByteWriter(1 << 16);
          for (const [event, bodyBytes] of eventsWithSizes) encodeEvent(writer, event, bodyBytes);
          const bytes = writer.take();
          const received: Event[] = [];
          const connection = connectionWithHandlers(received);
          const reader = new FrameReader(FRAME_MAX_BYTES);
          let offset = 0;
          for (const cut of cuts) {
            const end = Math.min(bytes.length, offset + cut);
            reader.push(bytes.subarray(offset, end), connection);
            offset = end;
          }
          reader.push(bytes.subarray(offset), connection);
          expect(received).toEqual(eventsWithSizes.map(([event]) => event));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports a delivery whose body is shorter than 8 bytes with no send time', () => {
    const received: Event[] = [];
    const connection = connectionWithHandlers(received);
    const writer = new ByteWriter();
    encodeBasicDeliverFrame(writer, 1, 'tag', 9, false, '', 'q');
    encodeContentHeaderFrameWithProperties(writer, 1, CLASS_BASIC, 3, {});
    encodeBodyFrames(writer, 1, Buffer.from('abc'), 0, 3, FRAME_MAX_BYTES);
    encodeBasicDeliverFrame(writer, 2, 'tag', 10, false, '', 'q');
    encodeContentHeaderFrameWithProperties(writer, 2, CLASS_BASIC, 0, {});
    new FrameReader(FRAME_MAX_BYTES).push(writer.take(), connection);
    expect(received).toEqual([
      { kind: 'delivery', channel: 1, deliveryTag: 9, sendTimeMs: NaN },
      { kind: 'delivery', channel: 2, deliveryTag: 10, sendTimeMs: NaN },
    ]);
  });

  it('turns a channel.close from the broker into a BrokerError with its reply text', () => {
    const connection = connectionWithHandlers([]);
    const failures: BrokerError[] = [];
    connection.onFailure = (error) => failures.push(error);
    const writer = new ByteWriter();
    encodeMethodFrame(writer, 2, {
      method: 'channel.close',
      replyCode: 404,
      replyText: "NOT_FOUND - no queue 'q' in vhost '/'",
      classId: 60,
      methodId: 20,
    });
    new FrameReader(FRAME_MAX_BYTES).push(writer.take(), connection);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.code).toBe('channel-closed');
    expect(failures[0]!.message).toMatch(
      /closed channel 2: 404 NOT_FOUND - no queue 'q' in vhost '\/' \(after basic.consume\)/,
    );
  });

  it('refuses a content header with no delivery before it, and frames on unopened channels', () => {
    const connection = connectionWithHandlers([]);
    const writer = new ByteWriter();
    encodeContentHeaderFrameWithProperties(writer, 1, CLASS_BASIC, 3, {});
    expect(() => new FrameReader(FRAME_MAX_BYTES).push(writer.take(), connection)).toThrow(
      /unexpected content header on channel 1/,
    );
    encodeBasicAckFrame(writer, 3, 1, false);
    expect(() => new FrameReader(FRAME_MAX_BYTES).push(writer.take(), connection)).toThrow(
      /unopened channel 3/,
    );
  });
});
