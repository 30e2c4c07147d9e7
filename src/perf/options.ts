// The command line of warren-perf: flag names a RabbitMQ PerfTest user would guess, parsed into
// plain PerfOptions (structured-cloneable, sent as-is to client threads) and checked for bounds
// and contradictions. Main thread; pure. Every failure is a UsageError, which exits 2.

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { FieldTable } from '../codec/index.js';
import { parseAmqpUri } from './amqp-uri.js';
import { UsageError } from './errors.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

/** A run, as the flags describe it. Units are in the names; 0 means "none" or "unlimited". */
export interface PerfOptions {
  uri: string;
  producerCount: number;
  consumerCount: number;
  /** Body size, at least 8: the first 8 bytes carry the send time. */
  messageBytes: number;
  /** Per producer; 0 = as fast as possible. */
  ratePerSecond: number;
  /** 0 = no time limit (only with messagesPerProducer). */
  durationSeconds: number;
  /** 0 = unlimited. */
  messagesPerProducer: number;
  /** Stop once consumers received this many in all (PerfTest's --cmessages); 0 = no limit. */
  consumerMessages: number;
  isPersistent: boolean;
  /** Most unconfirmed publishes per producer; 0 = no publisher confirms. */
  confirmWindow: number;
  isAutoAck: boolean;
  /** Ack with multiple=true every this many deliveries; 0 or 1 = ack each delivery. */
  multiAckEvery: number;
  /** basic.qos prefetch per consumer; 0 = unlimited. */
  prefetchCount: number;
  queueCount: number;
  /** Queue name, or pattern with %d; several queues without %d get -1, -2, ... */
  queueName: string;
  /** '' = the default exchange (routing key = queue name). */
  exchangeName: string;
  exchangeType: ExchangeType;
  /** null = each queue is bound with its own name. */
  routingKey: string | null;
  isDurable: boolean;
  isExclusive: boolean;
  isAutoDelete: boolean;
  queueArguments: FieldTable;
  /** Total connections; 0 = decided by channelsPerConnection. */
  connectionCount: number;
  channelsPerConnection: number;
  threadCount: number;
  /** 0 = derived from threadCount. */
  producerThreadCount: number;
  consumerThreadCount: number;
  warmupSeconds: number;
  isJson: boolean;
  isQuiet: boolean;
  isKeepQueues: boolean;
}

export const DEFAULT_URI = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_DURATION_SECONDS = 10;
export const DEFAULT_MESSAGE_BYTES = 12;
export const MESSAGE_BYTES_MIN = 8;
export const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
const CLIENTS_MAX = 10_000;
const QUEUES_MAX = 10_000;
const CONFIRM_WINDOW_MAX = 1 << 20;
const PREFETCH_MAX = 65_535;
const THREADS_MAX = 64;
const CHANNELS_PER_CONNECTION_MAX = 2047;
const DURATION_SECONDS_MAX = 7 * 24 * 3600;

/** The flags, for parseArgs and the help text; kept in the order `--help` lists them. */
const FLAGS = {
  uri: { type: 'string', value: 'URI', help: `broker to load (default ${DEFAULT_URI})` },
  producers: { type: 'string', value: 'N', help: 'producers (default 1)' },
  consumers: { type: 'string', value: 'N', help: 'consumers (default 1)' },
  size: { type: 'string', value: 'BYTES', help: `message body size, >= 8 (default 12)` },
  rate: { type: 'string', value: 'N', help: 'messages per second per producer; 0 = unlimited' },
  duration: { type: 'string', value: 'SECONDS', help: 'run time (default 10; 0 with --messages)' },
  messages: { type: 'string', value: 'N', help: 'messages per producer, then stop when consumed' },
  'consumer-messages': {
    type: 'string',
    value: 'N',
    help: 'stop once consumers received N in all (e.g. draining a queue)',
  },
  persistent: { type: 'boolean', help: 'publish with delivery_mode 2' },
  confirm: { type: 'string', value: 'N', help: 'publisher confirms, at most N unconfirmed each' },
  autoack: { type: 'boolean', help: 'consume with no-ack' },
  'multi-ack': { type: 'string', value: 'N', help: 'ack with multiple=true every N deliveries' },
  prefetch: { type: 'string', value: 'N', help: 'basic.qos prefetch per consumer; 0 = unlimited' },
  queues: { type: 'string', value: 'N', help: 'number of queues (default 1)' },
  queue: { type: 'string', value: 'NAME', help: 'queue name or pattern with %d (warren-perf)' },
  'queue-pattern': { type: 'string', value: 'NAME', help: 'same as --queue' },
  exchange: { type: 'string', value: 'NAME', help: "exchange; '' (default) = default exchange" },
  type: { type: 'string', value: 'TYPE', help: 'direct (default), fanout, topic or headers' },
  'routing-key': { type: 'string', value: 'KEY', help: 'bind every queue with KEY' },
  durable: { type: 'boolean', help: 'declare durable queues (and exchange)' },
  exclusive: { type: 'boolean', help: 'exclusive queues, declared by their consumer' },
  'auto-delete': { type: 'boolean', help: 'auto-delete queues' },
  'queue-args': {
    type: 'string',
    value: 'JSON',
    help: `queue arguments, e.g. '{"x-max-length":1000}'`,
  },
  connections: { type: 'string', value: 'N', help: 'spread all channels over N connections' },
  'channels-per-connection': { type: 'string', value: 'N', help: 'channels per connection (1)' },
  threads: { type: 'string', value: 'N', help: 'client threads (default: cores)' },
  'producer-threads': { type: 'string', value: 'N', help: 'client threads for producers' },
  'consumer-threads': { type: 'string', value: 'N', help: 'client threads for consumers' },
  'seconds-warmup': { type: 'string', value: 'SECONDS', help: 'run this long before measuring' },
  'keep-queues': { type: 'boolean', help: 'do not delete the queues at the end' },
  json: { type: 'boolean', help: 'print one JSON object on stdout instead of the table' },
  quiet: { type: 'boolean', help: 'no progress line on stderr' },
  help: { type: 'boolean', help: 'show this help' },
} as const;

export const USAGE = [
  'usage: warren-perf [flags]',
  '',
  'Loads an AMQP 0-9-1 broker (Warren, RabbitMQ) with producers and consumers on client threads,',
  'prints a progress line each second on stderr and a summary on stdout.',
  '',
  ...Object.entries(FLAGS).map(([name, flag]) => {
    const left = `  --${name}${'value' in flag ? ` ${flag.value}` : ''}`;
    return `${left.padEnd(36)}${flag.help}`;
  }),
  '',
  'Exit codes: 0 done, 1 broker error, 2 bad flags.',
].join('\n');

/** Thrown by {@link parsePerfOptions} for --help; the caller prints USAGE and exits 0. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

/** Parses and checks the command line. Throws UsageError, or HelpRequested for --help. */
export function parsePerfOptions(argv: readonly string[]): PerfOptions {
  const parseOptions: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, flag] of Object.entries(FLAGS)) parseOptions[name] = { type: flag.type };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values['help'] === true) throw new HelpRequested('help');
  const text = (name: keyof typeof FLAGS): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const flag = (name: keyof typeof FLAGS): boolean => values[name] === true;
  const integer = (name: keyof typeof FLAGS, fallback: number, min: number, max: number) =>
    parseNumber('integer', name, text(name), fallback, min, max);
  const decimal = (name: keyof typeof FLAGS, fallback: number, min: number, max: number) =>
    parseNumber('decimal', name, text(name), fallback, min, max);

  const uri = text('uri') ?? DEFAULT_URI;
  parseAmqpUri(uri);
  const messagesPerProducer = integer('messages', 0, 1, Number.MAX_SAFE_INTEGER);
  const consumerMessages = integer('consumer-messages', 0, 1, Number.MAX_SAFE_INTEGER);
  const isCounted = messagesPerProducer > 0 || consumerMessages > 0;
  const durationSeconds = decimal(
    'duration',
    isCounted ? 0 : DEFAULT_DURATION_SECONDS,
    0,
    DURATION_SECONDS_MAX,
  );
  if (durationSeconds === 0 && !isCounted) {
    throw new UsageError(
      '--duration 0 needs --messages N or --consumer-messages N (or the run would never end)',
    );
  }
  const queueFlag = text('queue');
  const queuePatternFlag = text('queue-pattern');
  if (queueFlag !== undefined && queuePatternFlag !== undefined) {
    throw new UsageError('give --queue or --queue-pattern, not both');
  }
  const queueName = queueFlag ?? queuePatternFlag ?? 'warren-perf';
  const exchangeName = text('exchange') ?? '';
  const typeText = text('type');
  if (typeText !== undefined && !isExchangeType(typeText)) {
    throw new UsageError(`--type ${typeText} is not one of direct, fanout, topic, headers`);
  }
  const routingKey = text('routing-key') ?? null;
  if (exchangeName === '' && typeText !== undefined) {
    throw new UsageError('--type needs --exchange NAME (the default exchange is always direct)');
  }
  if (exchangeName === '' && routingKey !== null) {
    throw new UsageError(
      '--routing-key needs --exchange NAME (the default exchange routes by queue name)',
    );
  }

  const options: PerfOptions = {
    uri,
    producerCount: integer('producers', 1, 0, CLIENTS_MAX),
    consumerCount: integer('consumers', 1, 0, CLIENTS_MAX),
    messageBytes: integer('size', DEFAULT_MESSAGE_BYTES, MESSAGE_BYTES_MIN, MESSAGE_BYTES_MAX),
    ratePerSecond: decimal('rate', 0, 0, 1e9),
    durationSeconds,
    messagesPerProducer,
    consumerMessages,
    isPersistent: flag('persistent'),
    confirmWindow: integer('confirm', 0, 1, CONFIRM_WINDOW_MAX),
    isAutoAck: flag('autoack'),
    multiAckEvery: integer('multi-ack', 0, 0, PREFETCH_MAX),
    prefetchCount: integer('prefetch', 0, 0, PREFETCH_MAX),
    queueCount: integer('queues', 1, 1, QUEUES_MAX),
    queueName,
    exchangeName,
    exchangeType: (typeText as ExchangeType | undefined) ?? 'direct',
    routingKey,
    isDurable: flag('durable'),
    isExclusive: flag('exclusive'),
    isAutoDelete: flag('auto-delete'),
    queueArguments: parseQueueArguments(text('queue-args')),
    connectionCount: integer('connections', 0, 1, CLIENTS_MAX),
    channelsPerConnection: integer('channels-per-connection', 1, 1, CHANNELS_PER_CONNECTION_MAX),
    threadCount: integer('threads', Math.min(availableParallelism(), THREADS_MAX), 1, THREADS_MAX),
    producerThreadCount: integer('producer-threads', 0, 1, THREADS_MAX),
    consumerThreadCount: integer('consumer-threads', 0, 1, THREADS_MAX),
    warmupSeconds: decimal('seconds-warmup', 0, 0, DURATION_SECONDS_MAX),
    isJson: flag('json'),
    isQuiet: flag('quiet'),
    isKeepQueues: flag('keep-queues'),
  };
  checkCombinations(options, values);
  return options;
}

function checkCombinations(
  options: PerfOptions,
  values: Record<string, string | boolean | undefined>,
): void {
  if (options.producerCount === 0 && options.consumerCount === 0) {
    throw new UsageError('--producers 0 and --consumers 0: nothing to run');
  }
  if (options.messagesPerProducer > 0 && options.producerCount === 0) {
    throw new UsageError(
      '--messages counts what each producer sends; with --producers 0 use --duration',
    );
  }
  if (options.consumerMessages > 0 && options.consumerCount === 0) {
    throw new UsageError('--consumer-messages needs consumers');
  }
  if (options.isAutoAck && options.multiAckEvery > 0) {
    throw new UsageError('--multi-ack has no effect with --autoack; give one of them');
  }
  if (options.prefetchCount > 0 && options.multiAckEvery > options.prefetchCount) {
    throw new UsageError(
      `--multi-ack ${options.multiAckEvery} above --prefetch ${options.prefetchCount} would ` +
        'stall every consumer: it waits for more deliveries than the broker may send unacked',
    );
  }
  if (options.isExclusive && options.consumerCount === 0) {
    throw new UsageError(
      '--exclusive needs consumers: an exclusive queue is declared by its consumer',
    );
  }
  if (options.isExclusive && options.consumerCount > options.queueCount) {
    throw new UsageError(
      `--exclusive with --consumers ${options.consumerCount} above --queues ${options.queueCount}: ` +
        'only the connection that declared an exclusive queue may consume from it',
    );
  }
  if (values['connections'] !== undefined && values['channels-per-connection'] !== undefined) {
    throw new UsageError('give --connections or --channels-per-connection, not both');
  }
  const longestQueueName = queueNameAt(options, options.queueCount - 1);
  if (Buffer.byteLength(longestQueueName, 'utf8') > 255) {
    throw new UsageError(`queue name ${longestQueueName.slice(0, 40)}... is over 255 bytes`);
  }
  if (options.warmupSeconds > 0 && options.durationSeconds === 0) {
    throw new UsageError('--seconds-warmup needs --duration');
  }
  if (options.warmupSeconds >= options.durationSeconds && options.warmupSeconds > 0) {
    throw new UsageError('--seconds-warmup must be shorter than --duration');
  }
}

function isExchangeType(value: string): value is ExchangeType {
  return value === 'direct' || value === 'fanout' || value === 'topic' || value === 'headers';
}

/** How a numeric flag is spelt: digits only for whole numbers, with an optional fraction else. */
const NUMBER_FORMATS = {
  integer: { pattern: /^\d+$/, noun: 'a whole number', isWhole: true },
  decimal: { pattern: /^\d+(\.\d+)?$/, noun: 'a number', isWhole: false },
} as const;

function parseNumber(
  format: keyof typeof NUMBER_FORMATS,
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const { pattern, noun, isWhole } = NUMBER_FORMATS[format];
  if (!pattern.test(value) || (isWhole && !Number.isSafeInteger(Number(value)))) {
    throw new UsageError(`--${name} ${value} is not ${noun}`);
  }
  return checkRange(name, Number(value), min, max);
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (value < min || value > max) {
    throw new UsageError(`--${name} ${value} is outside [${min}, ${max}]`);
  }
  return value;
}

function parseQueueArguments(value: string | undefined): FieldTable {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new UsageError(`--queue-args is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--queue-args must be a JSON object, like '{"x-max-length":1000}'`);
  }
  return parsed as FieldTable;
}

/** The name of queue `index` (0-based) of `options.queueCount`. */
export function queueNameAt(options: PerfOptions, index: number): string {
  if (options.queueName.includes('%d'))
    return options.queueName.replaceAll('%d', String(index + 1));
  return options.queueCount === 1 ? options.queueName : `${options.queueName}-${index + 1}`;
}

/** The options with the URI's password masked, for printing. */
export function printableOptions(options: PerfOptions): PerfOptions {
  return { ...options, uri: parseAmqpUri(options.uri).displayUri };
}
