// The queue arguments a shard acts on (TTL, length limits, dead-lettering, priorities), read once from a
// queue's declared arguments. Shard thread only. A queue without any of them has no features
// object at all, so the plain publish and delivery paths test one null and nothing else. The
// network thread has validated the arguments (queue-arguments.ts) before the queue exists.

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

export class QueueFeatures {
  /** x-message-ttl; -1 when absent. */
  readonly messageTtlMs: number;
  /** x-max-length; Infinity when absent. */
  readonly maxLength: number;
  /** x-max-length-bytes (message bodies of ready messages); Infinity when absent. */
  readonly maxLengthBytes: number;
  readonly overflow: Overflow;
  /** x-dead-letter-exchange; null when absent. */
  readonly deadLetterExchange: string | null;
  /** x-dead-letter-routing-key; null means "the message's own routing key". */
  readonly deadLetterRoutingKey: string | null;
  /** x-max-priority (1..255); 0 when absent or 0 (RabbitMQ's classic queue is then plain). */
  readonly maxPriority: number;
  /** The retry extension (x-warren-delivery-limit, x-warren-retry-*); null when unused. */
  readonly retry: RetryPolicy | null;

  private constructor(args: Record<string, unknown>) {
    this.messageTtlMs = integerOr(args['x-message-ttl'], -1);
    this.maxLength = integerOr(args['x-max-length'], Infinity);
    this.maxLengthBytes = integerOr(args['x-max-length-bytes'], Infinity);
    const overflow = args['x-overflow'];
    this.overflow =
      overflow === 'reject-publish' || overflow === 'reject-publish-dlx' ? overflow : 'drop-head';
    const exchange = args['x-dead-letter-exchange'];
    this.deadLetterExchange = typeof exchange === 'string' ? exchange : null;
    const routingKey = args['x-dead-letter-routing-key'];
    this.deadLetterRoutingKey = typeof routingKey === 'string' ? routingKey : null;
    this.maxPriority = Math.min(255, Math.max(0, integerOr(args['x-max-priority'], 0)));
    this.retry = RetryPolicy.from(args);
  }

  get hasLengthLimit(): boolean {
    return this.maxLength !== Infinity || this.maxLengthBytes !== Infinity;
  }

  /** The features a queue's arguments ask for, or null when they ask for none. */
  static from(args: Record<string, unknown>): QueueFeatures | null {
    const features = new QueueFeatures(args);
    if (
      features.messageTtlMs < 0 &&
      !features.hasLengthLimit &&
      features.deadLetterExchange === null &&
      features.maxPriority === 0 &&
      features.retry === null
    ) {
      return null;
    }
    return features;
  }
}

/**
 * Warren's retry extension: a returned message (nack or reject with requeue, or left unacked by a
 * closing channel) waits `delayMs × backoff^(deliveries − 1)` (at most `delayMaxMs`) before it
 * is ready again, and is dead-lettered (reason delivery_limit) once it has been delivered
 * `deliveryLimit` times. The delivery count is in the log, so it survives a restart.
 */
export class RetryPolicy {
  /** x-warren-delivery-limit: deliveries allowed; Infinity when absent. */
  readonly deliveryLimit: number;
  /** x-warren-retry-delay-ms: the wait after the first failed delivery; 0 = at once. */
  readonly delayMs: number;
  /** x-warren-retry-backoff: each further wait is this many times longer (default 2). */
  readonly backoff: number;
  /** x-warren-retry-delay-max-ms: the longest wait (default one hour). */
  readonly delayMaxMs: number;

  private constructor(args: Record<string, unknown>) {
    this.deliveryLimit = integerOr(args['x-warren-delivery-limit'], Infinity);
    this.delayMs = integerOr(args['x-warren-retry-delay-ms'], 0);
    const backoff = args['x-warren-retry-backoff'];
    this.backoff = typeof backoff === 'number' && backoff >= 1 ? backoff : 2;
    this.delayMaxMs = integerOr(args['x-warren-retry-delay-max-ms'], 3_600_000);
  }

  static from(args: Record<string, unknown>): RetryPolicy | null {
    if (
      args['x-warren-delivery-limit'] === undefined &&
      args['x-warren-retry-delay-ms'] === undefined
    ) {
      return null;
    }
    return new RetryPolicy(args);
  }

  /** How long a message delivered `deliveries` times waits before it is ready again. */
  delayFor(deliveries: number): number {
    if (this.delayMs === 0) return 0;
    return Math.min(this.delayMaxMs, this.delayMs * this.backoff ** (deliveries - 1));
  }
}

function integerOr(value: unknown, absent: number): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return absent;
}

/**
 * The per-message TTL in an expiration property, or -1 when there is none or it is not a
 * non-negative integer (the network thread refuses those with 406, as RabbitMQ does).
 */
export function parseExpirationMs(expiration: string | undefined): number {
  if (expiration === undefined || !/^\+?\d+$/.test(expiration)) return -1;
  return Number(expiration);
}
