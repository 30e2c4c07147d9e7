// Queue arguments as RabbitMQ's classic queues check them: validation when a queue is created,
// and the fixed list of arguments compared when a queue is declared again. Arguments outside
// that list (x-queue-mode=lazy from old clients, custom keys) are accepted, kept and ignored.

import type { FieldTable, FieldValue } from '../codec/index.js';
import { fieldTablesEquivalent, fieldTypeOf } from '../codec/index.js';
import { channelError } from './protocol-errors.js';

const PRECONDITION_FAILED = 406;

/** Arguments whose difference fails a redeclare (rabbit_classic_queue's capabilities). */
const COMPARED_ARGUMENTS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-queue-version',
  'x-single-active-consumer',
  'x-queue-type',
  'x-queue-master-locator',
  // Warren's retry extension.
  'x-warren-delivery-limit',
  'x-warren-retry-delay-ms',
  'x-warren-retry-backoff',
  'x-warren-retry-delay-max-ms',
];

/** Arguments only other queue types take; a classic queue refuses them. */
const OTHER_QUEUE_TYPE_ARGUMENTS = [
  'x-max-age',
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-quorum-initial-group-size',
  'x-delivery-limit',
];

const TTL_MAX_MS = 315_360_000_000;

function typeName(value: FieldValue | undefined): string {
  if (value === undefined) return 'none';
  if (typeof value === 'string') return 'longstr';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'long' : 'double';
  if (typeof value === 'bigint') return 'long';
  if (Buffer.isBuffer(value)) return 'bytes';
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'void';
  return 'table';
}

/** The wire type `table[key]` came with when known (as the client sent it), else its JS kind's. */
function typeOf(table: FieldTable, key: string): string {
  return fieldTypeOf(table, key) ?? typeName(table[key]);
}

function shown(table: FieldTable, key: string, value: FieldValue | undefined): string {
  if (value === undefined) return 'none';
  const type = table[key] === undefined ? typeName(value) : typeOf(table, key);
  return `the value '${String(value)}' of type '${type}'`;
}

function isInteger(value: FieldValue | undefined): value is number | bigint {
  return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint';
}

/** Throws 406 for an argument a new queue cannot have. */
export function validateQueueArguments(args: FieldTable, queueName: string, vhost: string): void {
  const invalid = (key: string, reason: string) =>
    channelError(
      PRECONDITION_FAILED,
      `invalid arg '${key}' for queue '${queueName}' in vhost '${vhost}': ${reason}`,
      50,
      10,
    );
  const integerArgument = (key: string, options: { isZeroAllowed: boolean; max?: number }) => {
    const value = args[key];
    if (value === undefined) return;
    if (!isInteger(value)) throw invalid(key, `"expected integer, got ${typeOf(args, key)}"`);
    const number = Number(value);
    if (number < 0) throw invalid(key, `{value_negative,${number}}`);
    if (number === 0 && !options.isZeroAllowed) throw invalid(key, `{value_zero,${number}}`);
    if (options.max !== undefined && number > options.max)
      throw invalid(key, `{value_too_large,${number}}`);
  };
  integerArgument('x-max-length', { isZeroAllowed: true });
  integerArgument('x-max-length-bytes', { isZeroAllowed: true });
  integerArgument('x-message-ttl', { isZeroAllowed: true, max: TTL_MAX_MS });
  integerArgument('x-expires', { isZeroAllowed: false, max: TTL_MAX_MS });
  // Warren's retry extension, checked in RabbitMQ's style.
  integerArgument('x-warren-delivery-limit', { isZeroAllowed: false });
  integerArgument('x-warren-retry-delay-ms', { isZeroAllowed: true, max: TTL_MAX_MS });
  integerArgument('x-warren-retry-delay-max-ms', { isZeroAllowed: true, max: TTL_MAX_MS });
  const backoff = args['x-warren-retry-backoff'];
  if (backoff !== undefined) {
    if (typeof backoff !== 'number')
      throw invalid(
        'x-warren-retry-backoff',
        `"expected number, got ${typeOf(args, 'x-warren-retry-backoff')}"`,
      );
    if (backoff < 1 || backoff > 1000)
      throw invalid('x-warren-retry-backoff', `{value_out_of_range,${backoff}}`);
  }
  const priority = args['x-max-priority'];
  if (priority !== undefined) {
    if (!isInteger(priority))
      throw invalid('x-max-priority', `"expected integer, got ${typeOf(args, 'x-max-priority')}"`);
    if (Number(priority) < 0)
      throw invalid('x-max-priority', `{value_negative,${Number(priority)}}`);
    if (Number(priority) > 255)
      throw invalid('x-max-priority', `{max_value_exceeded,${Number(priority)}}`);
  }
  const overflow = args['x-overflow'];
  if (
    overflow !== undefined &&
    overflow !== 'drop-head' &&
    overflow !== 'reject-publish' &&
    overflow !== 'reject-publish-dlx'
  ) {
    throw invalid('x-overflow', 'invalid_overflow');
  }
  const mode = args['x-queue-mode'];
  if (mode !== undefined && mode !== 'default' && mode !== 'lazy') {
    throw invalid('x-queue-mode', `"unsupported queue mode '${String(mode)}'"`);
  }
  const version = args['x-queue-version'];
  if (version !== undefined && version !== 1 && version !== 2) {
    throw invalid('x-queue-version', `"unsupported queue version '${String(version)}'"`);
  }
  const type = args['x-queue-type'];
  if (type !== undefined && type !== 'classic') {
    throw invalid('x-queue-type', `"unsupported queue type '${String(type)}'"`);
  }
  const deadLetterExchange = args['x-dead-letter-exchange'];
  if (deadLetterExchange !== undefined && typeof deadLetterExchange !== 'string') {
    throw channelError(
      PRECONDITION_FAILED,
      `invalid type '${typeOf(args, 'x-dead-letter-exchange')}' for arg 'x-dead-letter-exchange' in queue '${queueName}' in vhost '${vhost}'`,
      50,
      10,
    );
  }
  if (args['x-dead-letter-routing-key'] !== undefined && deadLetterExchange === undefined) {
    throw invalid('x-dead-letter-routing-key', 'routing_key_but_no_dlx_defined');
  }
  const singleActive = args['x-single-active-consumer'];
  if (singleActive !== undefined && typeof singleActive !== 'boolean') {
    throw invalid(
      'x-single-active-consumer',
      `{unacceptable_type,${typeOf(args, 'x-single-active-consumer')}}`,
    );
  }
  for (const key of OTHER_QUEUE_TYPE_ARGUMENTS) {
    if (args[key] !== undefined) {
      throw channelError(
        PRECONDITION_FAILED,
        `invalid arg '${key}' for queue '${queueName}' in vhost '${vhost}' of queue type rabbit_classic_queue`,
        50,
        10,
      );
    }
  }
}

/** Throws 406 when a compared argument differs between a redeclare and the queue. */
export function checkQueueArgumentsEquivalent(
  received: FieldTable,
  current: FieldTable,
  queueName: string,
  vhost: string,
): void {
  for (const key of COMPARED_ARGUMENTS) {
    let left = received[key];
    let right = current[key];
    if (key === 'x-queue-type') {
      left ??= 'classic';
      right ??= 'classic';
    }
    if (left === undefined && right === undefined) continue;
    if (
      left !== undefined &&
      right !== undefined &&
      fieldTablesEquivalent({ v: left }, { v: right })
    )
      continue;
    throw channelError(
      PRECONDITION_FAILED,
      `inequivalent arg '${key}' for queue '${queueName}' in vhost '${vhost}': received ${shown(received, key, left)} but current is ${shown(current, key, right)}`,
      50,
      10,
    );
  }
}
