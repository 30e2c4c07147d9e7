// The bytes of a segment: an 8-byte magic header, then records back to back, each
//   u32 crc32c (of everything after it in the record), u32 payloadBytes, u8 type, payload.
// The checksum covers the length and type too, so a torn or garbled header is caught as surely
// as a garbled payload. Little-endian. Types are the owner's (the log knows no meanings); 0 is
// never used, so a zeroed region never parses as a record.

import { crc32c } from '@node-rs/crc32';

export const SEGMENT_MAGIC = Buffer.from('WRNLOG\x00\x01', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const RECORD_HEADER_BYTES = 9;
export const RECORD_TYPE_MAX = 0xff;
/** A record larger than this is taken to be a corrupt length. */
export const RECORD_PAYLOAD_BYTES_MAX = 1 << 30;

/** Fills in the header of a record whose payload is already at `at + RECORD_HEADER_BYTES`. */
export function sealRecord(buffer: Buffer, at: number, type: number, payloadBytes: number): void {
  buffer.writeUInt32LE(payloadBytes, at + 4);
  buffer[at + 8] = type;
  const checksum = crc32c(buffer.subarray(at + 4, at + RECORD_HEADER_BYTES + payloadBytes));
  buffer.writeUInt32LE(checksum, at);
}

export const enum RecordCheck {
  Valid,
  /** Not enough bytes left for the header or the payload it announces. */
  Truncated,
  /** Bytes are there but the checksum or the type does not hold. */
  Corrupt,
}

/** Filled by checkRecord: the payload size of the record it last looked at. */
export const checked = { payloadBytes: 0 };

/** Checks the record at `at` in `buffer[..end)`; on Valid, `checked.payloadBytes` is its size. */
export function checkRecord(buffer: Buffer, at: number, end: number): RecordCheck {
  checked.payloadBytes = 0;
  if (end - at < RECORD_HEADER_BYTES) return RecordCheck.Truncated;
  const payloadBytes = buffer.readUInt32LE(at + 4);
  const type = buffer[at + 8]!;
  if (payloadBytes > RECORD_PAYLOAD_BYTES_MAX || type === 0) return RecordCheck.Corrupt;
  checked.payloadBytes = payloadBytes;
  if (end - at - RECORD_HEADER_BYTES < payloadBytes) return RecordCheck.Truncated;
  const expected = buffer.readUInt32LE(at);
  const actual = crc32c(buffer.subarray(at + 4, at + RECORD_HEADER_BYTES + payloadBytes));
  return actual === expected ? RecordCheck.Valid : RecordCheck.Corrupt;
}
