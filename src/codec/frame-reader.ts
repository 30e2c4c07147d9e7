// FrameReader: splits one connection's socket stream into frames, in place. Runs on the net
// thread, one per connection, after the 8-byte protocol header has been consumed. A frame wholly
// inside a chunk reaches the sink as a range of that chunk; only a frame that straddles chunks is
// copied, into one reused buffer that never grows past frame_max + 8. Sizes are checked against
// frame_max before a byte is buffered. No allocation and no closure per frame.

import { strict as assert } from 'node:assert';
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_ERROR,
  FRAME_HEADER,
  FRAME_HEADER_BYTES,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FRAME_OVERHEAD_BYTES,
} from './constants.js';
import { ConnectionError } from './errors.js';

/** Receives each complete frame. The payload `buf[start, end)` is valid only during the call. */
export interface FrameSink {
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void;
}

const FRAME_MAX_BYTES_LIMIT = 0xffff_ffff;
const PARTIAL_INITIAL_BYTES = 4096;
const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * Incremental frame parser. Errors follow rabbit_reader (handle_input, handle_frame), all
 * ConnectionError(FRAME_ERROR) with RabbitMQ's texts:
 * - a payload larger than frame_max: "{frame_too_large,Size,FrameMax-8}". RabbitMQ adds a fudge of
 *   8 bytes because clients get frame_max wrong by 1 or 8 (FRAME_SIZE_FUDGE), so its payload
 *   limit is frame_max itself, not frame_max - 8; we accept the same frames.
 * - a frame-end octet other than 0xCE: "{invalid_frame_end_marker,Octet}".
 * - a type other than 1, 2, 3 and 8, or a heartbeat with a payload: "unknown_frame" (RabbitMQ's
 *   analyze_frame accepts only an empty heartbeat payload).
 * Once push() throws, whether the reader or the sink threw, the stream has lost sync and the
 * reader stays halted: every later push() is ignored until reset().
 */
export class FrameReader {
  private frameMaxBytes: number;
  /** The reused buffer for a frame split across chunks. */
  private partial: Buffer;
  /** Bytes of the split frame held in `partial`. */
  private partialBytes: number;
  /** Total bytes of the split frame, header to frame-end; 0 until its header is complete. */
  private partialFrameBytes: number;
  private isHaltedFlag: boolean;
  private isPushing: boolean;

  /**
   * @param frameMaxBytes the negotiated frame_max: the largest frame including its 8 bytes of
   * header and frame-end. At least FRAME_MIN_SIZE; the net layer passes its own bound when a peer
   * negotiates 0 (no limit), since every buffer here must be bounded.
   */
  constructor(frameMaxBytes: number) {
    this.frameMaxBytes = FRAME_MIN_SIZE;
    this.partial = EMPTY_BUFFER;
    this.partialBytes = 0;
    this.partialFrameBytes = 0;
    this.isHaltedFlag = false;
    this.isPushing = false;
    this.setFrameMax(frameMaxBytes);
  }

  /** Changes frame_max, for example after connection.tune-ok; may be called from onFrame. */
  setFrameMax(frameMaxBytes: number): void {
    assert(
      Number.isSafeInteger(frameMaxBytes) &&
        frameMaxBytes >= FRAME_MIN_SIZE &&
        frameMaxBytes <= FRAME_MAX_BYTES_LIMIT,
      `frame_max ${frameMaxBytes} is outside [${FRAME_MIN_SIZE}, ${FRAME_MAX_BYTES_LIMIT}]`,
    );
    this.frameMaxBytes = frameMaxBytes;
    // Keep the buffer within the new bound; a split frame in progress keeps its own.
    if (this.partialBytes === 0 && this.partial.length > frameMaxBytes + FRAME_OVERHEAD_BYTES) {
      this.partial = EMPTY_BUFFER;
    }
  }

  /** Stops the current push() after the frame being delivered and ignores all later input. */
  halt(): void {
    this.isHaltedFlag = true;
    this.partialBytes = 0;
    this.partialFrameBytes = 0;
  }

  get isHalted(): boolean {
    return this.isHaltedFlag;
  }

  /** Bytes of an incomplete frame waiting for the next chunk. */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  /** Forgets any buffered bytes and the halted state, for reuse on a new stream. */
  reset(): void {
    assert(!this.isPushing, 'FrameReader.reset() called from inside push()');
    this.isHaltedFlag = false;
    this.partialBytes = 0;
    this.partialFrameBytes = 0;
  }

  /**
   * Delivers every complete frame in `chunk`, in order, and buffers a trailing partial frame.
   * Throws ConnectionError(FRAME_ERROR) on a bad frame; the reader is then halted.
   */
  push(chunk: Buffer, sink: FrameSink): void {
    if (this.isHaltedFlag) return;
    assert(!this.isPushing, 'FrameReader.push() called from inside onFrame');
    this.isPushing = true;
    let isDone = false;
    try {
      this.parse(chunk, sink);
      isDone = true;
    } finally {
      this.isPushing = false;
      if (!isDone) this.halt();
    }
  }

  private parse(chunk: Buffer, sink: FrameSink): void {
    const length = chunk.length;
    let offset = 0;
    if (this.partialBytes > 0) {
      offset = this.continuePartial(chunk, sink);
      if (offset === length || this.isHaltedFlag) return;
    }
    while (true) {
      const available = length - offset;
      if (available < FRAME_HEADER_BYTES) {
        if (available > 0) this.startPartial(chunk, offset, length, 0);
        return;
      }
      const size = readU32(chunk, offset + 3);
      // Read frame_max afresh: the sink may have changed it while handling the previous frame.
      if (size > this.frameMaxBytes) throw frameTooLarge(chunk[offset]!, size, this.frameMaxBytes);
      const frameBytes = size + FRAME_OVERHEAD_BYTES;
      if (frameBytes > available) {
        this.startPartial(chunk, offset, length, frameBytes);
        return;
      }
      this.deliver(chunk, offset, size, sink);
      if (this.isHaltedFlag) return;
      offset += frameBytes;
    }
  }

  /** Checks the frame at `buf[offset]` (complete, `size` payload bytes) and hands it over. */
  private deliver(buf: Buffer, offset: number, size: number, sink: FrameSink): void {
    const type = buf[offset]!;
    const payloadStart = offset + FRAME_HEADER_BYTES;
    const payloadEnd = payloadStart + size;
    const endMarker = buf[payloadEnd]!;
    if (endMarker !== FRAME_END) {
      throw frameError(
        type,
        buf,
        payloadStart,
        payloadEnd,
        `{invalid_frame_end_marker,${endMarker}}`,
      );
    }
    const isKnownType =
      type === FRAME_METHOD ||
      type === FRAME_BODY ||
      type === FRAME_HEADER ||
      (type === FRAME_HEARTBEAT && size === 0);
    if (!isKnownType) throw frameError(type, buf, payloadStart, payloadEnd, 'unknown_frame');
    sink.onFrame(type, (buf[offset + 1]! << 8) | buf[offset + 2]!, buf, payloadStart, payloadEnd);
  }

  /**
   * Copies the start of a split frame, `chunk[from, to)`, into the partial buffer. `frameBytes`
   * is the whole frame's size when its header is complete (and already checked), else 0.
   */
  private startPartial(chunk: Buffer, from: number, to: number, frameBytes: number): void {
    this.ensurePartial(frameBytes === 0 ? FRAME_HEADER_BYTES : frameBytes, 0);
    chunk.copy(this.partial, 0, from, to);
    this.partialBytes = to - from;
    this.partialFrameBytes = frameBytes;
  }

  /** Feeds the split frame from the start of `chunk`; returns how many chunk bytes it used. */
  private continuePartial(chunk: Buffer, sink: FrameSink): number {
    let offset = 0;
    if (this.partialFrameBytes === 0) {
      const headerNeeded = FRAME_HEADER_BYTES - this.partialBytes;
      const taken = Math.min(headerNeeded, chunk.length);
      chunk.copy(this.partial, this.partialBytes, 0, taken);
      this.partialBytes += taken;
      offset = taken;
      if (this.partialBytes < FRAME_HEADER_BYTES) return offset;
      const size = readU32(this.partial, 3);
      if (size > this.frameMaxBytes)
        throw frameTooLarge(this.partial[0]!, size, this.frameMaxBytes);
      this.partialFrameBytes = size + FRAME_OVERHEAD_BYTES;
      this.ensurePartial(this.partialFrameBytes, this.partialBytes);
    }
    const taken = Math.min(this.partialFrameBytes - this.partialBytes, chunk.length - offset);
    chunk.copy(this.partial, this.partialBytes, offset, offset + taken);
    this.partialBytes += taken;
    offset += taken;
    if (this.partialBytes < this.partialFrameBytes) return offset;
    const size = this.partialFrameBytes - FRAME_OVERHEAD_BYTES;
    this.partialBytes = 0;
    this.partialFrameBytes = 0;
    this.deliver(this.partial, 0, size, sink);
    return offset;
  }

  /** Grows the partial buffer to hold `bytes`, keeping its first `keepBytes`. */
  private ensurePartial(bytes: number, keepBytes: number): void {
    if (this.partial.length >= bytes) return;
    const limit = this.frameMaxBytes + FRAME_OVERHEAD_BYTES;
    assert(bytes <= limit, `split frame of ${bytes} bytes exceeds frame_max + 8 = ${limit}`);
    const size = Math.min(limit, Math.max(bytes, PARTIAL_INITIAL_BYTES, this.partial.length * 2));
    const grown = Buffer.allocUnsafe(size);
    this.partial.copy(grown, 0, 0, keepBytes);
    this.partial = grown;
  }
}

function readU32(buf: Buffer, offset: number): number {
  return (
    buf[offset]! * 0x100_0000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!)
  );
}

function frameTooLarge(type: number, size: number, frameMaxBytes: number): ConnectionError {
  return new ConnectionError(
    FRAME_ERROR,
    `FRAME_ERROR - type ${type}, all octets = <<>>: ` +
      `{frame_too_large,${size},${frameMaxBytes - FRAME_OVERHEAD_BYTES}}`,
  );
}

// RabbitMQ's text: "type ~tp, ~ts octets = ~tp: ~tp" with at most the first 16 payload octets.
function frameError(
  type: number,
  buf: Buffer,
  start: number,
  end: number,
  reason: string,
): ConnectionError {
  const shown = Math.min(end - start, 16);
  const octets: number[] = [];
  for (let index = 0; index < shown; index++) octets.push(buf[start + index]!);
  const label = end - start <= 16 ? 'all' : 'first 16';
  return new ConnectionError(
    FRAME_ERROR,
    `FRAME_ERROR - type ${type}, ${label} octets = <<${octets.join(',')}>>: ${reason}`,
  );
}
