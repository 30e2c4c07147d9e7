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
      features.maxPriority === 0
    ) {
      return null;
    }
    return features;
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
