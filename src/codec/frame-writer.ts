// Frame envelopes: the 7-byte header and the frame-end octet around a payload, plus heartbeat and
// body frames. Runs wherever frames are built, into that thread's ByteWriter. Outgoing frames
// honour frame_max strictly (payload at most frame_max - 8), as RabbitMQ's own writer does
// (rabbit_binary_generator build_content_frames), even though its reader tolerates 8 bytes more.

import type { ByteWriter } from './byte-writer.js';
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_HEARTBEAT,
  FRAME_MIN_SIZE,
  FRAME_OVERHEAD_BYTES,
} from './constants.js';

/**
 * Writes a frame header with a placeholder size and returns the position of the size field;
 * pass it to {@link endFrame} after writing the payload.
 */
export function beginFrame(writer: ByteWriter, type: number, channel: number): number {
  writer.u8(type);
  writer.u16(channel);
  const sizeAt = writer.position;
  writer.u32(0);
  return sizeAt;
}

/** Fills in the payload size left by {@link beginFrame} and writes the frame-end octet. */
export function endFrame(writer: ByteWriter, sizeAt: number): void {
  writer.patchU32(sizeAt, writer.position - sizeAt - 4);
  writer.u8(FRAME_END);
}

/** Writes a heartbeat frame: type 8 on channel 0 with an empty payload. */
export function encodeHeartbeatFrame(writer: ByteWriter): void {
  writer.u8(FRAME_HEARTBEAT);
  writer.u16(0);
  writer.u32(0);
  writer.u8(FRAME_END);
}

/**
 * Writes `body[start, end)` as body frames of at most `frameMaxBytes - 8` payload bytes each. An
 * empty body writes no frame, as RabbitMQ sends none.
 */
export function encodeBodyFrames(
  writer: ByteWriter,
  channel: number,
  body: Uint8Array,
  start: number,
  end: number,
  frameMaxBytes: number,
): void {
  if (!(frameMaxBytes >= FRAME_MIN_SIZE)) {
    throw new RangeError(`frame_max ${frameMaxBytes} is below ${FRAME_MIN_SIZE}`);
  }
  const payloadMaxBytes = frameMaxBytes - FRAME_OVERHEAD_BYTES;
  writer.ensure(end - start + Math.ceil((end - start) / payloadMaxBytes) * FRAME_OVERHEAD_BYTES);
  for (let offset = start; offset < end; offset += payloadMaxBytes) {
    const chunkEnd = Math.min(end, offset + payloadMaxBytes);
    writer.u8(FRAME_BODY);
    writer.u16(channel);
    writer.u32(chunkEnd - offset);
    writer.bytes(body, offset, chunkEnd);
    writer.u8(FRAME_END);
  }
}
