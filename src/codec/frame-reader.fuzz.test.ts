// Property tests for the frame reader: frames split at arbitrary points come out whole and in
// order, in place when they fit a chunk; garbage yields frames or ConnectionError(FRAME_ERROR)
// and nothing else, whatever the split; frame_max is enforced before anything is buffered.

import { AssertionError } from 'node:assert';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_ERROR,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
} from './constants.js';
import { ConnectionError } from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';

interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

function encodeFrame(frame: Frame): Buffer {
  const header = Buffer.alloc(7);
  header[0] = frame.type;
  header.writeUInt16BE(frame.channel, 1);
  header.writeUInt32BE(frame.payload.length, 3);
  return Buffer.concat([header, frame.payload, Buffer.from([FRAME_END])]);
}

/** Cuts `stream` at the given points (taken modulo its length) into chunks. */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => (stream.length === 0 ? 0 : cut % stream.length)))]
    .filter((point) => point > 0)
    .sort((left, right) => left - right);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

/** Collects copies of every frame; also records whether the payload was a view of the chunk. */
class CollectingSink implements FrameSink {
  readonly frames: Frame[] = [];
  readonly wasInPlace: boolean[] = [];
  chunk: Buffer = Buffer.alloc(0);

  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    this.frames.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) });
    this.wasInPlace.push(buf === this.chunk);
  }
}

const FRAME_MAX_BYTES = FRAME_MIN_SIZE;

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constantFrom(FRAME_METHOD, FRAME_HEADER, FRAME_BODY),
    channel: fc.integer({ min: 0, max: 0xffff }),
    payload: fc
      .oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ minLength: 1000, maxLength: FRAME_MAX_BYTES }),
      )
      .map((bytes) => Buffer.from(bytes)),
  }),
  fc.constant({ type: FRAME_HEARTBEAT, channel: 0, payload: Buffer.alloc(0) }),
);
const cuts = fc.array(fc.nat(), { maxLength: 30 });

function runChunks(
  chunks: Buffer[],
  frameMaxBytes = FRAME_MAX_BYTES,
): { sink: CollectingSink; error: unknown; reader: FrameReader } {
  const reader = new FrameReader(frameMaxBytes);
  const sink = new CollectingSink();
  let error: unknown;
  for (const chunk of chunks) {
    sink.chunk = chunk;
    try {
      reader.push(chunk, sink);
    } catch (caught) {
      error = caught;
      break;
    }
    const partial = (reader as unknown as { partial: Buffer }).partial;
    expect(partial.length).toBeLessThanOrEqual(frameMaxBytes + 8);
    expect(reader.bufferedBytes).toBeLessThan(frameMaxBytes + 8);
  }
  return { sink, error, reader };
}

describe('FrameReader on valid streams', () => {
  it('yields exactly the frames sent, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), cuts, (frames, cutPoints) => {
        const encoded = frames.map(encodeFrame);
        const stream = Buffer.concat(encoded);
        const chunks = split(stream, cutPoints);
        const { sink, error, reader } = runChunks(chunks);
        expect(error).toBeUndefined();
        expect(sink.frames).toEqual(frames);
        expect(reader.bufferedBytes).toBe(0);

        // A frame is passed in place exactly when it lies wholly inside one chunk.
        const chunkStarts: number[] = [];
        let position = 0;
        for (const chunk of chunks) {
          chunkStarts.push(position);
          position += chunk.length;
        }
        let frameStart = 0;
        encoded.forEach((bytes, index) => {
          const frameEnd = frameStart + bytes.length;
          const isInsideOneChunk = chunks.some(
            (chunk, chunkIndex) =>
              chunkStarts[chunkIndex]! <= frameStart &&
              frameEnd <= chunkStarts[chunkIndex]! + chunk.length,
          );
          expect(sink.wasInPlace[index]).toBe(isInsideOneChunk);
          frameStart = frameEnd;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('accepts a payload of exactly frame_max bytes and refuses one more (RabbitMQ fudge)', () => {
    const largest = encodeFrame({ type: FRAME_BODY, channel: 1, payload: Buffer.alloc(4096) });
    const { sink, error } = runChunks([largest]);
    expect(error).toBeUndefined();
    expect(sink.frames).toHaveLength(1);

    // Only the 7 header bytes arrive: the size alone must be refused, with nothing buffered.
    const oversize = encodeFrame({ type: FRAME_BODY, channel: 1, payload: Buffer.alloc(4097) });
    for (const chunks of [
      [oversize.subarray(0, 7)],
      [oversize.subarray(0, 3), oversize.subarray(3, 7)],
    ]) {
      const result = runChunks(chunks);
      expect(result.error).toBeInstanceOf(ConnectionError);
      expect((result.error as ConnectionError).replyCode).toBe(FRAME_ERROR);
      expect((result.error as ConnectionError).replyText).toBe(
        'FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}',
      );
      expect(result.reader.bufferedBytes).toBe(0);
    }
  });

  it('applies a frame_max changed from inside onFrame to the rest of the chunk', () => {
    const reader = new FrameReader(FRAME_MIN_SIZE);
    const big = encodeFrame({ type: FRAME_BODY, channel: 1, payload: Buffer.alloc(10000) });
    const first = encodeFrame({ type: FRAME_METHOD, channel: 0, payload: Buffer.from([1]) });
    let count = 0;
    reader.push(Buffer.concat([first, big]), {
      onFrame() {
        count++;
        reader.setFrameMax(131072);
      },
    });
    expect(count).toBe(2);
  });
});

describe('FrameReader on hostile input', () => {
  it('yields frames or ConnectionError(FRAME_ERROR), the same whatever the split', () => {
    expect.hasAssertions();
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      // Valid frames with a few bytes overwritten reach deeper states than pure noise.
      fc
        .tuple(
          fc.array(frame, { minLength: 1, maxLength: 5 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        )
        .map(([frames, flips]) => {
          const stream = Buffer.concat(frames.map(encodeFrame));
          for (const [position, octet] of flips) stream[position % stream.length] = octet;
          return stream;
        }),
    );
    fc.assert(
      fc.property(garbage, cuts, (stream, cutPoints) => {
        const whole = runChunks([stream]);
        const pieces = runChunks(split(stream, cutPoints));
        for (const result of [whole, pieces]) {
          if (result.error !== undefined) {
            expect(result.error).toBeInstanceOf(ConnectionError);
            expect((result.error as ConnectionError).replyCode).toBe(FRAME_ERROR);
            expect(result.reader.isHalted).toBe(true);
          }
        }
        expect(pieces.sink.frames).toEqual(whole.sink.frames);
        expect((pieces.error as Error | undefined)?.message).toBe(
          (whole.error as Error | undefined)?.message,
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a bad frame-end octet, an unknown type and a heartbeat with a payload', () => {
    const badEnd = encodeFrame({ type: FRAME_METHOD, channel: 0, payload: Buffer.from([1, 2]) });
    badEnd[badEnd.length - 1] = 0xcd;
    const unknownType = encodeFrame({ type: 9, channel: 0, payload: Buffer.from([7]) });
    const heartbeatWithPayload = encodeFrame({
      type: FRAME_HEARTBEAT,
      channel: 0,
      payload: Buffer.from([0]),
    });
    const cases: [Buffer, string][] = [
      [badEnd, 'FRAME_ERROR - type 1, all octets = <<1,2>>: {invalid_frame_end_marker,205}'],
      [unknownType, 'FRAME_ERROR - type 9, all octets = <<7>>: unknown_frame'],
      [heartbeatWithPayload, 'FRAME_ERROR - type 8, all octets = <<0>>: unknown_frame'],
    ];
    for (const [bytes, text] of cases) {
      const { error } = runChunks([bytes]);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({
        replyCode: FRAME_ERROR,
        replyText: text,
        classId: 0,
        methodId: 0,
      });
    }
    const long = encodeFrame({ type: 9, channel: 0, payload: Buffer.alloc(20, 1) });
    expect(runChunks([long]).error).toMatchObject({
      replyText:
        'FRAME_ERROR - type 9, first 16 octets = <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1>>: unknown_frame',
    });
  });
});

describe('FrameReader control', () => {
  const twoFrames = Buffer.concat([
    encodeFrame({ type: FRAME_METHOD, channel: 1, payload: Buffer.from([1]) }),
    encodeFrame({ type: FRAME_METHOD, channel: 2, payload: Buffer.from([2]) }),
  ]);

  it('halt() from onFrame drops the rest of the chunk and later chunks until reset()', () => {
    const reader = new FrameReader(FRAME_MIN_SIZE);
    const channels: number[] = [];
    const sink: FrameSink = {
      onFrame(_type, channel) {
        channels.push(channel);
        if (channel === 1) reader.halt();
      },
    };
    reader.push(twoFrames, sink);
    reader.push(twoFrames, sink);
    expect(channels).toEqual([1]);
    expect(reader.isHalted).toBe(true);
    reader.reset();
    reader.push(twoFrames.subarray(9), sink);
    expect(channels).toEqual([1, 2]);
  });

  it('stays halted after the sink throws', () => {
    const reader = new FrameReader(FRAME_MIN_SIZE);
    let calls = 0;
    const sink: FrameSink = {
      onFrame() {
        calls++;
        throw new ConnectionError(FRAME_ERROR, 'FRAME_ERROR - from the sink');
      },
    };
    expect(() => reader.push(twoFrames, sink)).toThrow('from the sink');
    reader.push(twoFrames, sink);
    expect(calls).toBe(1);
    expect(reader.isHalted).toBe(true);
  });

  it('refuses a re-entrant push and a frame_max below the spec minimum', () => {
    const reader = new FrameReader(FRAME_MIN_SIZE);
    const sink: FrameSink = {
      onFrame() {
        reader.push(twoFrames, sink);
      },
    };
    expect(() => reader.push(twoFrames, sink)).toThrow(AssertionError);
    expect(() => new FrameReader(4095)).toThrow(AssertionError);
    expect(() => new FrameReader(0)).toThrow(AssertionError);
  });
});
