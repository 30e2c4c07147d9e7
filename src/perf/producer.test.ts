// Unit tests for Producer against a stand-in connection (no network): the publish frames and
// the send time in the body, the confirm window bound, confirms in order, out of order and with
// multiple, nacks, --messages, backpressure and the rate limit.

import { describe, expect, it } from 'vitest';
import {
  ByteWriter,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_METHOD,
  FrameReader,
  METHOD_BASIC_PUBLISH,
  readMethodKey,
} from '../codec/index.js';
import type { AmqpConnection } from './amqp-connection.js';
import { createLatencyHistogram, sharedClockMs } from './latency.js';
import { parsePerfOptions } from './options.js';
import { PUBLISH_BLOCKED, PUBLISH_DONE, PUBLISH_READY, Producer } from './producer.js';

class FakeConnection {
  writer = new ByteWriter(4096);
  frameMaxBytes = 4096;
  isBackpressured = false;
}

function producerWith(argv: string[], connection = new FakeConnection()) {
  const options = parsePerfOptions(argv);
  const histogram = createLatencyHistogram();
  let wakeUps = 0;
  const producer = new Producer(
    connection as unknown as AmqpConnection,
    3,
    [{ exchange: '', routingKey: 'q', headerValue: null, queueCopies: 2 }],
    options,
    { schedule: () => wakeUps++ },
    histogram,
    0,
  );
  return { producer, connection, histogram, wakeUps: () => wakeUps };
}

/** The frames in `bytes`, as [type, channel, payload]. */
function framesOf(bytes: Buffer): [number, number, Buffer][] {
  const frames: [number, number, Buffer][] = [];
  new FrameReader(1 << 20).push(bytes, {
    onFrame: (type, channel, buf, start, end) =>
      frames.push([type, channel, Buffer.from(buf.subarray(start, end))]),
  });
  return frames;
}

describe('Producer', () => {
  it('writes method, header and body frames with the send time in the first 8 body bytes', () => {
    const { producer, connection } = producerWith(['--size', '6000', '--messages', '2']);
    const before = sharedClockMs();
    expect(producer.publishBatch(0)).toBe(PUBLISH_DONE);
    const after = sharedClockMs();
    const frames = framesOf(connection.writer.take());
    // Two messages of a method, a header and two body frames (6000 bytes > frame_max 4096).
    expect(frames.map(([type]) => type)).toEqual([
      FRAME_METHOD,
      FRAME_HEADER,
      FRAME_BODY,
      FRAME_BODY,
      FRAME_METHOD,
      FRAME_HEADER,
      FRAME_BODY,
      FRAME_BODY,
    ]);
    expect(frames.every(([, channel]) => channel === 3)).toBe(true);
    const [, , method] = frames[0]!;
    expect(readMethodKey(method, 0, method.length)).toBe(METHOD_BASIC_PUBLISH);
    const sendTimeMs = frames[2]![2].readDoubleBE(0);
    expect(sendTimeMs).toBeGreaterThanOrEqual(before);
    expect(sendTimeMs).toBeLessThanOrEqual(after);
    expect(frames[2]![2].length + frames[3]![2].length).toBe(6000);
    expect(producer.sentCount).toBe(2);
    expect(producer.routedCount).toBe(4);
  });

  it('keeps at most --confirm unconfirmed and wakes the pump on confirms', () => {
    const { producer, histogram, wakeUps } = producerWith(['--confirm', '5']);
    expect(producer.publishBatch(0)).toBe(PUBLISH_READY);
    expect(producer.sentCount).toBe(5);
    expect(producer.publishBatch(0)).toBe(PUBLISH_BLOCKED);
    producer.onConfirm(2, true, false);
    expect(producer.confirmedCount).toBe(2);
    expect(producer.outstandingCount).toBe(3);
    expect(wakeUps()).toBe(1);
    producer.publishBatch(0);
    expect(producer.sentCount).toBe(7);
    expect(histogram.totalCount).toBe(2);
  });

  it('settles out-of-order single confirms and never lets the window span more than --confirm', () => {
    const { producer } = producerWith(['--confirm', '4']);
    producer.publishBatch(0); // 1..4
    producer.onConfirm(2, false, false);
    producer.onConfirm(4, false, false);
    expect(producer.outstandingCount).toBe(2);
    // 1 is still unsettled, so 1..4 spans the whole window.
    expect(producer.publishBatch(0)).toBe(PUBLISH_BLOCKED);
    producer.onConfirm(1, false, false);
    expect(producer.publishBatch(0)).toBe(PUBLISH_READY); // 5, 6
    expect(producer.sentCount).toBe(6);
    producer.onConfirm(6, true, false); // settles 3, 5, 6; 2 and 4 were already
    expect(producer.confirmedCount).toBe(6);
    expect(producer.outstandingCount).toBe(0);
    producer.onConfirm(6, true, false); // a repeat settles nothing
    expect(producer.confirmedCount).toBe(6);
  });

  it('counts nacks apart and refuses confirms of unpublished sequence numbers', () => {
    const { producer, histogram } = producerWith(['--confirm', '10']);
    producer.publishBatch(0);
    producer.onConfirm(3, true, true);
    expect(producer.nackedCount).toBe(3);
    expect(producer.confirmedCount).toBe(0);
    expect(histogram.totalCount).toBe(0);
    expect(() => producer.onConfirm(11, false, false)).toThrow(/never published/);
  });

  it('stops at --messages, on stop(), and waits while the socket is backpressured', () => {
    const { producer, connection } = producerWith(['--messages', '300']);
    connection.isBackpressured = true;
    expect(producer.publishBatch(0)).toBe(PUBLISH_BLOCKED);
    connection.isBackpressured = false;
    expect(producer.publishBatch(0)).toBe(PUBLISH_READY);
    expect(producer.publishBatch(0)).toBe(PUBLISH_DONE);
    expect(producer.sentCount).toBe(300);
    const other = producerWith([]).producer;
    other.stop();
    expect(other.publishBatch(0)).toBe(PUBLISH_DONE);
  });

  it('waits for a token when rate limited', () => {
    const { producer } = producerWith(['--rate', '100']);
    expect(producer.publishBatch(0)).toBe(PUBLISH_READY);
    expect(producer.sentCount).toBe(1);
    expect(producer.publishBatch(0)).toBeCloseTo(10, 6);
    expect(producer.publishBatch(25)).toBe(PUBLISH_READY);
    expect(producer.sentCount).toBe(3);
  });
});
