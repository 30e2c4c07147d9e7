// Polling for tests that wait on something no event announces (a log line, a sampled statistic,
// a file size, a dead-lettered message): the one polling loop, and a variant that throws. Every
// wait is bounded. Test process only.

import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** How long to keep trying; 5000 unless told. */
  timeoutMs?: number;
  /** The pause between tries; 10 unless told. */
  intervalMs?: number;
}

/**
 * Calls `read` until `accept` holds for what it returns (by default: until it is truthy) and
 * resolves with that value; once `timeoutMs` has passed, resolves with the last value read, so
 * the caller's assertion shows what was there instead.
 */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean = Boolean,
  { timeoutMs = 5000, intervalMs = 10 }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() >= deadline) return value;
    await sleep(intervalMs);
  }
}

/** Polls `condition` until it holds; throws naming `what` when it never does in `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  if (!(await pollUntil(condition, Boolean, { timeoutMs }))) {
    throw new Error(`condition never held within ${timeoutMs} ms: ${what}`);
  }
}
