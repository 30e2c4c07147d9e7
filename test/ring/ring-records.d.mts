// Types for ring-records.mjs.
export type Rng = () => number;
export function makeRng(seed: number): Rng;
export type SizeProfile = 'mixed' | 'mixed-nonempty' | 'edges' | 'edges-nonempty';
export function makeSizer(
  seed: number,
  recordPayloadMaxBytes: number,
  profile?: SizeProfile,
): () => number;
export function typeOf(seq: number): number;
export function fillRecord(target: Buffer, offset: number, seq: number, size: number): void;
export function checkRecord(
  seq: number,
  expectedType: number,
  expectedSize: number,
  type: number,
  bytes: Buffer,
  start: number,
  end: number,
): string | null;
