// Unit tests for frame envelopes: heartbeats and body frames split under frame_max - 8.

import { describe, expect, it } from 'vitest';
import { ByteWriter } from './byte-writer.js';
import { FrameReader } from './frame-reader.js';
import { encodeBodyFrames, encodeHeartbeatFrame } from './frame-writer.js';

describe('frame writer', () => {
  it('writes a heartbeat frame', () => {
    const writer = new ByteWriter();
    encodeHeartbeatFrame(writer);
    expect(writer.take().toString('hex')).toBe('08000000000000ce');
  });

  it('splits a body into frames of at most frame_max - 8 payload bytes', () => {
    const body = Buffer.alloc(10000);
    for (let index = 0; index < body.length; index++) body[index] = index & 0xff;
    const writer = new ByteWriter();
    encodeBodyFrames(writer, 3, body, 100, 10000, 4096);
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    new FrameReader(4096).push(writer.take(), {
      onFrame(type, channel, buf, start, end) {
        expect([type, channel]).toEqual([3, 3]);
        sizes.push(end - start);
        parts.push(Buffer.from(buf.subarray(start, end)));
      },
    });
    expect(sizes).toEqual([4088, 4088, 1724]);
    expect(Buffer.concat(parts).equals(body.subarray(100))).toBe(true);
  });

  it('writes no frame for an empty body', () => {
    const writer = new ByteWriter();
    encodeBodyFrames(writer, 1, Buffer.alloc(0), 0, 0, 4096);
    expect(writer.position).toBe(0);
    expect(() => encodeBodyFrames(writer, 1, Buffer.alloc(1), 0, 1, 100)).toThrow(RangeError);
  });
});
