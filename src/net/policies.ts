// Policies: named, per-vhost sets of settings applied to every queue (TTL, expiry, limits,
// dead-lettering) or exchange (alternate-exchange) whose name matches a pattern, as RabbitMQ's
// policies are: from the definitions file at start, kept in shard 0's log, and settable through
// Broker.setPolicy for the management API. Network thread only. One policy applies to a queue or
// exchange: the matching one with the highest priority (ties go to the name that sorts first).
// Its keys combine with a queue's own x- arguments as RabbitMQ's classic queues combine them:
// the lower of the two for TTLs, expiry and length limits, the argument for the rest. Operator
// policies (set by operators to cap what users' policies and arguments ask for) are chosen the
// same way, separately, and only lower TTLs, expiry and length limits.

import type { FieldTable, FieldValue } from '../codec/index.js';

export type PolicyTarget = 'all' | 'queues' | 'exchanges' | 'classic_queues';

export interface Policy {
  vhost: string;
  name: string;
  pattern: string;
  applyTo: PolicyTarget;
  priority: number;
  definition: Record<string, unknown>;
}

/** Policy keys for queues, the queue argument each stands for, and how the two combine. */
const QUEUE_KEYS: Record<string, { argument: string; isLowerWins: boolean }> = {
  'message-ttl': { argument: 'x-message-ttl', isLowerWins: true },
  expires: { argument: 'x-expires', isLowerWins: true },
  'max-length': { argument: 'x-max-length', isLowerWins: true },
  'max-length-bytes': { argument: 'x-max-length-bytes', isLowerWins: true },
  overflow: { argument: 'x-overflow', isLowerWins: false },
  'dead-letter-exchange': { argument: 'x-dead-letter-exchange', isLowerWins: false },
  'dead-letter-routing-key': { argument: 'x-dead-letter-routing-key', isLowerWins: false },
};

/** Keys accepted and ignored (they concern other queue types or nothing Warren does). */
const IGNORED_KEYS = new Set([
  'queue-mode',
  'queue-version',
  'ha-mode',
  'ha-params',
  'ha-sync-mode',
  'queue-master-locator',
  'delivery-limit',
  'max-age',
  'federation-upstream-set',
  'federation-upstream',
]);

/** Operator policy keys Warren applies (each only lowers), and those for other queue types. */
const OPERATOR_KEYS = new Set(['message-ttl', 'expires', 'max-length', 'max-length-bytes']);
const OPERATOR_IGNORED_KEYS = new Set([
  'max-in-memory-length',
  'max-in-memory-bytes',
  'delivery-limit',
  'queue-mode',
]);

/** The checks every policy shares: pattern, apply-to and priority. */
function validateSelector(policy: Policy): string | null {
  try {
    new RegExp(policy.pattern);
  } catch {
    return `invalid pattern '${policy.pattern}'`;
  }
  if (!['all', 'queues', 'exchanges', 'classic_queues'].includes(policy.applyTo))
    return `invalid apply-to '${String(policy.applyTo)}'`;
  if (!Number.isInteger(policy.priority)) return `invalid priority '${String(policy.priority)}'`;
  return null;
}

function validateLimit(key: string, value: unknown): string | null {
  const isZeroAllowed = key !== 'expires';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (isZeroAllowed ? 0 : 1))
    return `${key} must be a ${isZeroAllowed ? 'non-negative' : 'positive'} integer`;
  return null;
}

/** Checks an operator policy as RabbitMQ does: only the keys operators may cap. */
export function validateOperatorPolicy(policy: Policy): string | null {
  const error = validateSelector(policy);
  if (error !== null) return error;
  if (policy.applyTo === 'exchanges') return 'operator policies apply to queues only';
  for (const [key, value] of Object.entries(policy.definition)) {
    if (OPERATOR_IGNORED_KEYS.has(key)) continue;
    if (!OPERATOR_KEYS.has(key)) return `unrecognised operator policy key '${key}'`;
    const limitError = validateLimit(key, value);
    if (limitError !== null) return limitError;
  }
  return null;
}

/**
 * Checks a policy as RabbitMQ's policy validators do; returns an error text, or null when it is
 * valid.
 */
export function validatePolicy(policy: Policy): string | null {
  const error = validateSelector(policy);
  if (error !== null) return error;
  for (const [key, value] of Object.entries(policy.definition)) {
    if (IGNORED_KEYS.has(key)) continue;
    if (key === 'alternate-exchange') {
      if (typeof value !== 'string') return 'alternate-exchange must be a string';
      continue;
    }
    const rule = QUEUE_KEYS[key];
    if (rule === undefined) return `unrecognised policy key '${key}'`;
    if (key === 'overflow') {
      if (value !== 'drop-head' && value !== 'reject-publish' && value !== 'reject-publish-dlx')
        return `'${String(value)}' is not a valid overflow value`;
    } else if (key === 'dead-letter-exchange' || key === 'dead-letter-routing-key') {
      if (typeof value !== 'string') return `${key} must be a string`;
    } else {
      const limitError = validateLimit(key, value);
      if (limitError !== null) return limitError;
    }
  }
  return null;
}

/** The policy that applies to an exchange, if any (apply-to all or exchanges). */
export function policyForExchange(
  policies: ReadonlyMap<string, Policy> | undefined,
  exchangeName: string,
): Policy | null {
  return strongestPolicy(policies, (policy) => {
    if (policy.applyTo !== 'all' && policy.applyTo !== 'exchanges') return false;
    return new RegExp(policy.pattern).test(exchangeName);
  });
}

/** Whether a policy applies to a queue of this name. */
function appliesToQueue(policy: Policy, queueName: string): boolean {
  if (policy.applyTo === 'exchanges') return false;
  return new RegExp(policy.pattern).test(queueName);
}

/** The policy that applies to a queue, if any. */
export function policyForQueue(
  policies: ReadonlyMap<string, Policy> | undefined,
  queueName: string,
): Policy | null {
  return strongestPolicy(policies, (policy) => appliesToQueue(policy, queueName));
}

/** Of the policies that apply, the highest priority wins; a tie goes to the name sorting first. */
function strongestPolicy(
  policies: ReadonlyMap<string, Policy> | undefined,
  applies: (policy: Policy) => boolean,
): Policy | null {
  if (policies === undefined) return null;
  let chosen: Policy | null = null;
  for (const policy of policies.values()) {
    if (!applies(policy)) continue;
    if (
      chosen === null ||
      policy.priority > chosen.priority ||
      (policy.priority === chosen.priority && policy.name < chosen.name)
    ) {
      chosen = policy;
    }
  }
  return chosen;
}

/**
 * A queue's own arguments with a policy's keys combined in, and then an operator policy's, as its
 * shard applies them.
 */
export function effectiveQueueArguments(
  args: FieldTable,
  policy: Policy | null,
  operatorPolicy: Policy | null = null,
): FieldTable {
  if (policy === null && operatorPolicy === null) return args;
  const effective: FieldTable = { ...args };
  for (const [key, value] of Object.entries(operatorPolicy?.definition ?? {})) {
    const rule = QUEUE_KEYS[key];
    if (rule === undefined || !OPERATOR_KEYS.has(key) || typeof value !== 'number') continue;
    const own = effective[rule.argument];
    effective[rule.argument] = own === undefined ? value : Math.min(Number(own), value);
  }
  for (const [key, value] of Object.entries(policy?.definition ?? {})) {
    const rule = QUEUE_KEYS[key];
    if (rule === undefined) continue;
    const own = effective[rule.argument];
    if (own === undefined) {
      effective[rule.argument] = value as FieldValue;
    } else if (rule.isLowerWins && typeof value === 'number') {
      effective[rule.argument] = Math.min(Number(own), value);
    }
  }
  // A policy's dead-letter routing key needs a dead-letter exchange from somewhere.
  if (
    effective['x-dead-letter-routing-key'] !== undefined &&
    effective['x-dead-letter-exchange'] === undefined
  ) {
    delete effective['x-dead-letter-routing-key'];
  }
  return effective;
}
