// A message as its shard holds it: the message block as received (one copy per shard, shared
// by every queue of the shard it reached) and, when it is logged, where its record is and how
// many of its durable queue copies are still unsettled. Shard thread only.

/** What a block costs in memory beyond its bytes: the Buffer object that holds them. */
export const BLOCK_OVERHEAD_BYTES = 96;

const RECORD_TIMED = 1;
const RECORD_PAGE = 2;

export class StoredMessage {
  /** The message block; null while paged out (then read back from the log). */
  block: Buffer | null;
  readonly blockBytes: number;
  /** Segment of the record, 0 when not logged. */
  segment = 0;
  /** Offset of the record's payload in its segment; -1 inside a transaction record. */
  payloadOffset = 0;
  /** Bytes the log retains for this record (0 for messages inside a transaction record). */
  payloadBytes = 0;
  /** Unsettled durable copies; the record is released when this reaches 0. */
  liveRefs = 0;
  /** The log append that wrote it; its block may be paged out once that is durable. */
  appendSeq = 0;
  /** Queue copies (durable or not) still holding it; its memory is freed at 0. */
  copies = 0;
  /**
   * RECORD_TIMED, RECORD_PAGE or neither: one field for two flags, as a million queued messages
   * pay 8 bytes for every field.
   */
  private recordFlags = 0;
  /** Bytes of its body alone (what x-max-length-bytes counts). */
  readonly bodyBytes: number;

  /** A null block means "in the log only" (recovery beyond the memory budget). */
  constructor(block: Buffer | null, blockBytes = block?.length ?? 0, bodyBytes = -1) {
    this.block = block;
    this.blockBytes = blockBytes;
    this.bodyBytes =
      bodyBytes >= 0 || block === null ? bodyBytes : bodyBytesOf(block, 0, block.length);
  }

  /** Whether its record carries per-copy expiry times (LOG_MESSAGE_TIMED). */
  get isTimedRecord(): boolean {
    return (this.recordFlags & RECORD_TIMED) !== 0;
  }

  set isTimedRecord(isTimed: boolean) {
    this.recordFlags = isTimed ? this.recordFlags | RECORD_TIMED : this.recordFlags & ~RECORD_TIMED;
  }

  /** Whether its record is only a paged-out body (LOG_PAGED), not a durable copy. */
  get isPageRecord(): boolean {
    return (this.recordFlags & RECORD_PAGE) !== 0;
  }

  set isPageRecord(isPage: boolean) {
    this.recordFlags = isPage ? this.recordFlags | RECORD_PAGE : this.recordFlags & ~RECORD_PAGE;
  }

  /** Memory its block takes while held. */
  get memoryBytes(): number {
    return this.blockBytes + BLOCK_OVERHEAD_BYTES;
  }
}

/**
 * The body's size in the message block `bytes[start..end)`; 0 for bytes that are not a block
 * (store tests log arbitrary payloads).
 */
export function bodyBytesOf(bytes: Buffer, start: number, end: number): number {
  let at = start;
  if (at >= end) return 0;
  at += 1 + bytes[at]!;
  if (at >= end) return 0;
  at += 1 + bytes[at]!;
  if (at + 4 > end) return 0;
  return Math.max(0, end - (at + 4 + bytes.readUInt32LE(at)));
}
