// Invariant checks. A failed assertion is a bug in Warren, never bad client input: it throws
// an AssertionError that nobody catches, so the process dies and recovery starts from the log.

export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

/** Crashes (throws an uncaught InvariantError) when `condition` is false. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** Marks a branch the type system proves impossible. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new InvariantError(`${message}: ${String(value)}`);
}
