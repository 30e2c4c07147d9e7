import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyBytes } from './copy-bytes.js';

describe('copyBytes', () => {
  it('copies any range like Buffer.copy, short or long, from Buffers and Uint8Arrays', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(),
        fc.nat(),
        fc.nat(40),
        fc.boolean(),
        (bytes, a, b, targetStart, isBuffer) => {
          const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
          const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
          const source = isBuffer ? Buffer.from(bytes) : bytes;
          const expected = Buffer.alloc(260, 0xee);
          Buffer.from(bytes).copy(expected, targetStart, start, end);
          const actual = Buffer.alloc(260, 0xee);
          expect(copyBytes(source, actual, targetStart, start, end)).toBe(end - start);
          expect(actual).toEqual(expected);
        },
      ),
    );
  });
});
