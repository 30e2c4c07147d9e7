// Types for build-if-changed.mjs.
export function sourceFingerprint(root: string): string;
export function isDistCurrent(root: string, fingerprint?: string): boolean;
export function writeFingerprint(root: string, fingerprint: string): void;
