// The record stream both ends of a ring test agree on, from a seed: each record's size and type,
// and bytes that depend on the record's sequence number (a canary in every byte), so that a lost,
// duplicated, reordered or corrupted record shows up at the reader. Plain JavaScript so worker
// threads can load it without a build step; types in ring-records.d.mts.

/** xorshift32: a small deterministic generator; returns a function giving uint32 values. */
export function makeRng(seed) {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/**
 * Returns the record-size stream for a seed. Profile 'mixed': mostly small records, some medium,
 * a few just around the single-record limit and a few larger than it (sent as fragments).
 * Profile 'edges': only sizes that stress the ring's arithmetic on a small ring: 0 to 8 bytes
 * (alignment), the limit and its neighbours, multiples of it, and records bigger than the whole
 * ring, so that every distance to the wrap point comes up and pads of every size are written.
 * Profiles ending in '-nonempty' never give zero-byte records.
 */
export function makeSizer(seed, recordPayloadMaxBytes, profile = 'mixed') {
  const rng = makeRng(seed);
  const max = recordPayloadMaxBytes;
  const least = profile.endsWith('-nonempty') ? 1 : 0;
  if (profile.startsWith('edges')) {
    const sizes = [
      0,
      1,
      2,
      3,
      4,
      5,
      7,
      8,
      9,
      max - 4,
      max - 3,
      max - 1,
      max,
      max + 1,
      max + 4,
      2 * max,
      2 * max + 1,
      4 * max + 3,
      9 * max + 5,
    ];
    return () => {
      const roll = rng() % 100;
      // Mostly short and limit-sized records, so each wrap lands at a new distance from the end.
      let size;
      if (roll < 40) size = rng() % 9;
      else if (roll < 60) size = rng() % max;
      else size = sizes[rng() % sizes.length];
      return Math.max(least, size);
    };
  }
  return () => {
    const roll = rng() % 10_000;
    if (roll < 8_500) return Math.max(least, rng() % 65);
    if (roll < 9_900) return Math.max(least, rng() % 4_096);
    if (roll < 9_950) return max - 2 + (rng() % 5);
    return max + 1 + (rng() % (3 * max));
  };
}

/** Record types 1..127 (the high bit marks fragments inside the ring). */
export function typeOf(seq) {
  return (seq % 127) + 1;
}

function canary(seq, index) {
  return (Math.imul(seq, 0x9e3779b1) + Math.imul(index, 0x85ebca6b) + (seq >>> 7)) >>> 24;
}

/** Fills `size` bytes at `target[offset]`: the sequence number first, then canary bytes. */
export function fillRecord(target, offset, seq, size) {
  let index = 0;
  if (size >= 4) {
    target.writeUInt32LE(seq >>> 0, offset);
    index = 4;
  }
  for (; index < size; index++) target[offset + index] = canary(seq, index);
}

/** Checks a received record; returns a description of the first difference, or null. */
export function checkRecord(seq, expectedType, expectedSize, type, bytes, start, end) {
  if (type !== expectedType) return `record ${seq}: type ${type}, expected ${expectedType}`;
  if (end - start !== expectedSize)
    return `record ${seq}: ${end - start} bytes, expected ${expectedSize}`;
  let index = 0;
  if (expectedSize >= 4) {
    const got = bytes.readUInt32LE(start);
    if (got !== seq >>> 0) return `record ${seq}: carries sequence number ${got}`;
    index = 4;
  }
  for (; index < expectedSize; index++) {
    if (bytes[start + index] !== canary(seq, index)) {
      return `record ${seq}: byte ${index} of ${expectedSize} is ${bytes[start + index]}, expected ${canary(seq, index)}`;
    }
  }
  return null;
}
