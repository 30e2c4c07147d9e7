// The two ways warren-perf fails, each with a stable code: a usage error (bad flags or URI; the
// command exits 2) and a broker error (refused or lost connection, a channel or connection closed
// by the broker, a handshake that failed; the command exits 1). Any thread; they cross from client
// threads to the main thread as plain { code, message } because structured cloning drops classes.

/** A bad command line: unknown flag, bad value, or flags that contradict each other. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** Stable codes of {@link BrokerError}. */
export type BrokerErrorCode =
  | 'connect-failed'
  | 'connection-lost'
  | 'connection-closed'
  | 'channel-closed'
  | 'handshake-failed'
  | 'heartbeat-timeout'
  | 'consumer-cancelled'
  | 'protocol-violation'
  | 'stalled'
  | 'client-thread-failed';

/** The broker refused, dropped or closed something the run needs. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly code: BrokerErrorCode;

  constructor(code: BrokerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A failure as it crosses threads. */
export interface PlainBrokerError {
  code: BrokerErrorCode;
  message: string;
}

/** Rebuilds a {@link BrokerError} from whatever a client thread threw or reported. */
export function toBrokerError(error: unknown): BrokerError {
  if (error instanceof BrokerError) return error;
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const code = (error as { code?: unknown }).code;
    const message = String((error as { message: unknown }).message);
    if (typeof code === 'string' && BROKER_ERROR_CODES.has(code)) {
      return new BrokerError(code as BrokerErrorCode, message);
    }
    return new BrokerError('client-thread-failed', message);
  }
  return new BrokerError('client-thread-failed', String(error));
}

const BROKER_ERROR_CODES: ReadonlySet<string> = new Set<BrokerErrorCode>([
  'connect-failed',
  'connection-lost',
  'connection-closed',
  'channel-closed',
  'handshake-failed',
  'heartbeat-timeout',
  'consumer-cancelled',
  'protocol-violation',
  'stalled',
  'client-thread-failed',
]);
