// A vhost's limits, as RabbitMQ's `vhost-limits` runtime parameter holds them: the most
// connections open to it and the most queues in it. A missing or negative value means no limit;
// 0 refuses every connection or queue (RabbitMQ's meaning). Network thread only.

export const VHOST_LIMIT_NAMES = ['max-connections', 'max-queues'] as const;

export type VhostLimitName = (typeof VHOST_LIMIT_NAMES)[number];

export type VhostLimits = Partial<Record<VhostLimitName, number>>;

export function isVhostLimitName(name: string): name is VhostLimitName {
  return (VHOST_LIMIT_NAMES as readonly string[]).includes(name);
}

/** Checks limits as RabbitMQ's validator does; returns an error text, or null when valid. */
export function validateVhostLimits(limits: Record<string, unknown>): string | null {
  for (const [name, value] of Object.entries(limits)) {
    if (!isVhostLimitName(name)) return `unrecognised vhost limit '${name}'`;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      return `${name} must be an integer`;
    }
  }
  return null;
}

/** The limit that applies: the lower of a vhost's own and a broker-wide one (0 = none there). */
export function effectiveLimit(own: number | undefined, global: number): number | null {
  const isOwn = own !== undefined && own >= 0;
  if (!isOwn) return global > 0 ? global : null;
  return global > 0 ? Math.min(own, global) : own;
}
