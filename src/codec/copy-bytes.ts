// Buffer.copy for the hot paths: a copy of a few bytes costs more in the call into C++ than in
// the bytes, so short ones (consumer tags, names, small bodies) are copied by a plain loop.

/** At or below this many bytes a loop beats Buffer.copy (~40 ns a call on Node 20). */
const LOOP_COPY_BYTES_MAX = 32;

/** Copies `source[sourceStart, sourceEnd)` to `target` at `targetStart`; returns the count. */
export function copyBytes(
  source: Uint8Array,
  target: Uint8Array,
  targetStart: number,
  sourceStart: number,
  sourceEnd: number,
): number {
  const count = sourceEnd - sourceStart;
  if (count <= LOOP_COPY_BYTES_MAX) {
    for (let i = 0; i < count; i++) target[targetStart + i] = source[sourceStart + i]!;
    return count;
  }
  if (Buffer.isBuffer(source)) return source.copy(target, targetStart, sourceStart, sourceEnd);
  target.set(source.subarray(sourceStart, sourceEnd), targetStart);
  return count;
}
