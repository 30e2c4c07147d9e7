// The broker's settings: the BrokerOptions type and SETTINGS, the one schema that defines each
// setting (option key, flag, environment variable, default, check, help). startBroker() fills
// and checks its options here; the command line (src/config.ts), `warren --help` and the table
// in docs/operations.md (scripts/settings-table.mjs) are made from the same entries, so a
// setting is added, documented and validated in this file and nowhere else.
// Over 600 lines because it is the table of every setting: one entry each, in one place.

import { availableParallelism } from 'node:os';
import { DEFAULT_LOG_OPTIONS } from '../shard/api.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './logger.js';

export interface BrokerOptions {
  /** AMQP port; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  bind: string;
  /** Worker-thread shards holding the queues. */
  shardCount: number;
  /** Where durable state lives (the log arrives with issue #3). */
  dataDir: string;
  /** Management HTTP port (API, UI, /metrics); 0 picks a free one. */
  mgmtPort: number;
  /** Whether the management HTTP server runs at all. */
  isMgmtEnabled: boolean;
  /** PEM certificate (chain) and key: the management server speaks HTTPS when both are set. */
  mgmtTlsCertFile: string | null;
  mgmtTlsKeyFile: string | null;
  /** Heartbeat the server suggests in connection.tune; 0 disables. */
  heartbeatSeconds: number;
  /** Largest frame the server accepts and suggests, including the 8 bytes of framing. */
  frameMaxBytes: number;
  /** Most channels per connection the server suggests and enforces. */
  channelMax: number;
  /** Largest message body accepted (RabbitMQ's max_message_size). */
  messageMaxBytes: number;
  /** Bytes of each shard ring (one per direction per shard). */
  ringBytes: number;
  /** A RabbitMQ definitions JSON file loaded at start (users, vhosts, permissions, topology). */
  definitionsFile: string | null;
  /** Most open AMQP connections (RabbitMQ's connection_max); 0 = no limit. */
  connectionMax: number;
  /** Most queues in one vhost (RabbitMQ's max-queues vhost limit, for every vhost); 0 = no limit. */
  queueMaxPerVhost: number;
  /** amqps port; the TLS listener runs only when tlsCertFile and tlsKeyFile are set. */
  tlsPort: number;
  /** PEM certificate (chain) and private key of the TLS listener. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** PEM CA bundle for verifying client certificates. */
  tlsCaFile: string | null;
  /**
   * Ask every TLS client for a certificate and refuse those without a valid one (RabbitMQ's
   * verify_peer with fail_if_no_peer_cert); such clients may log in with EXTERNAL.
   */
  isTlsVerifyPeer: boolean;
  /** The user created when no definitions name any user. */
  defaultUser: string;
  defaultPassword: string;
  /** Users that may only connect from loopback (RabbitMQ's loopback_users). */
  loopbackUsers: string[];
  /** Bytes queued for a client's socket above which its deliveries pause. */
  socketWriteHighBytes: number;
  /**
   * When the log reports an append durable: 'batch' fdatasyncs every group-commit batch (safe,
   * the default), 'interval' at most every fsyncIntervalMs, 'off' never (confirm after write()).
   */
  fsyncMode: 'batch' | 'interval' | 'off';
  fsyncIntervalMs: number;
  /** batch mode: wait this long before a sync so more publishes share it (0: none). */
  fsyncBatchDelayMs: number;
  /** Size at which a log segment is sealed and a new one started. */
  segmentBytesMax: number;
  /** Compaction of mostly dead segments starts once a shard's log holds this many bytes. */
  compactionMinBytes: number;
  /**
   * Message bodies held in memory across all queues; beyond it, bodies of persistent messages
   * in durable queues are dropped and read back from the log when delivered.
   */
  queueMemoryBytes: number;
  /**
   * Memory alarm: publishing stops while the process RSS is at or above this; a fraction of
   * RAM when at most 1 (RabbitMQ's vm_memory_high_watermark), otherwise bytes.
   */
  memoryHighWatermark: number;
  /** Disk alarm: publishing stops while the data directory's free space is below this. */
  diskFreeLimitBytes: number;
  /**
   * A channel with a delivery unacked for this long is closed with 406 (RabbitMQ's
   * consumer_timeout, 30 minutes by default); 0 turns it off. Checked at least once a second.
   */
  consumerTimeoutMs: number;
  /** Least severe level logged to stderr: 'debug', 'info', 'warn', 'error' or 'silent'. */
  logLevel: LogLevel;
  /** 'human' lines (time, level, message, key=value context) or 'json' lines (pino's). */
  logFormat: LogFormat;
  /**
   * A shard that leaves a control-plane ping unanswered this long fails the health checks
   * (it is looping or blocked); pings go out about once a second.
   */
  shardPingTimeoutMs: number;
}

/** How a setting's value is written on the command line and checked. */
export type SettingKind = 'integer' | 'decimal' | 'text' | 'file' | 'choice' | 'switch' | 'names';

/** One setting's schema entry. */
export interface Setting {
  key: keyof BrokerOptions;
  /** The command-line flag without its dashes; null for settings only startBroker() takes. */
  flag: string | null;
  /** The environment variable; null exactly when flag is. */
  env: string | null;
  kind: SettingKind;
  /** integer and decimal: the smallest and largest value accepted. */
  min: number;
  max: number;
  /** choice: the values accepted. */
  choices: readonly string[];
  /** The default for the command line (and startBroker(), unless libraryDefault says otherwise). */
  defaultValue: () => unknown;
  /** The default as --help and the docs show it. */
  defaultText: string;
  /** startBroker()'s own default, in words, where it differs from the command line's. */
  libraryDefaultText: string | null;
  /** A further check on a value of the right kind; returns the problem or null. */
  check: ((value: never) => string | null) | null;
  /** One line for --help. */
  help: string;
  /** More for the settings table in docs/operations.md (after the help line). */
  details: string;
}

type SettingSpec = Pick<Setting, 'key' | 'flag' | 'kind' | 'help'> &
  Partial<Omit<Setting, 'key' | 'flag' | 'kind' | 'help' | 'defaultValue'>> & {
    defaultValue: unknown;
  };

/** startBroker()'s log level when the caller gives none: quiet inside someone else's process. */
export const LIBRARY_LOG_LEVEL: LogLevel = 'warn';

export function defaultShardCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

const MiB = 1024 * 1024;
const PORT = { min: 0, max: 65535 };
const COUNT = { min: 0, max: Number.MAX_SAFE_INTEGER };

function setting(spec: SettingSpec): Setting {
  const value = spec.defaultValue;
  return {
    env: spec.flag === null ? null : `WARREN_${spec.flag.replace(/-/g, '_').toUpperCase()}`,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    choices: [],
    defaultText: defaultTextOf(value),
    libraryDefaultText: null,
    check: null,
    details: '',
    ...spec,
    defaultValue:
      typeof value === 'function' ? (value as () => unknown) : () => structuredClone(value),
  };
}

function defaultTextOf(value: unknown): string {
  if (value === null) return 'none';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number' && value >= MiB && value % MiB === 0)
    return `${value} (${value / MiB} MiB)`;
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** Every setting, in the order --help and the docs list them. */
export const SETTINGS: readonly Setting[] = [
  setting({
    key: 'port',
    flag: 'port',
    kind: 'integer',
    ...PORT,
    defaultValue: 5672,
    help: 'AMQP port (0 picks a free one)',
  }),
  setting({
    key: 'bind',
    flag: 'bind',
    kind: 'text',
    defaultValue: '::',
    help: 'address to listen on (AMQP, amqps and management); :: is every address of both families (IPv4 only where the host has no IPv6), as RabbitMQ listens by default',
  }),
  setting({
    key: 'shardCount',
    flag: 'shards',
    kind: 'integer',
    min: 1,
    max: 30,
    defaultValue: defaultShardCount,
    defaultText: 'cores - 1, at least 1',
    help: 'worker-thread shards holding the queues',
  }),
  setting({
    key: 'dataDir',
    flag: 'data-dir',
    kind: 'text',
    defaultValue: './data',
    libraryDefaultText: 'a new temporary directory, removed by close()',
    help: 'directory for durable state: shard logs (shards/N/), definitions file',
  }),
  setting({
    key: 'mgmtPort',
    flag: 'mgmt-port',
    kind: 'integer',
    ...PORT,
    defaultValue: 15672,
    help: 'management HTTP port: API, web UI, /metrics (0 picks a free one)',
  }),
  setting({
    key: 'isMgmtEnabled',
    flag: 'mgmt',
    kind: 'switch',
    defaultValue: true,
    help: 'run the management HTTP server: on or off (--no-mgmt = off)',
  }),
  setting({
    key: 'mgmtTlsCertFile',
    flag: 'mgmt-tls-cert',
    kind: 'file',
    defaultValue: null,
    help: 'PEM certificate (chain): the management server speaks HTTPS (with --mgmt-tls-key)',
    details: 'the ready line then says `mgmt=https://...`',
  }),
  setting({
    key: 'mgmtTlsKeyFile',
    flag: 'mgmt-tls-key',
    kind: 'file',
    defaultValue: null,
    help: 'PEM private key for the management server',
  }),
  setting({
    key: 'connectionMax',
    flag: 'max-connections',
    kind: 'integer',
    ...COUNT,
    defaultValue: 0,
    help: 'most open AMQP connections (0 = no limit)',
    details:
      'RabbitMQ\'s `connection_max`; past it, connection.open gets 530 "node connection limit (N) is reached"',
  }),
  setting({
    key: 'queueMaxPerVhost',
    flag: 'max-queues-per-vhost',
    kind: 'integer',
    ...COUNT,
    defaultValue: 0,
    help: 'most queues in one vhost (0 = no limit)',
    details:
      'RabbitMQ\'s `max-queues` vhost limit, for every vhost; past it, queue.declare gets 406 "vhost queue limit (N) is reached" (AMQP and HTTP API); a vhost\'s own lower `max-queues` limit applies too',
  }),
  setting({
    key: 'tlsPort',
    flag: 'tls-port',
    kind: 'integer',
    ...PORT,
    defaultValue: 5671,
    help: 'amqps port, listening when a certificate and key are given (0 picks a free one)',
  }),
  setting({
    key: 'tlsCertFile',
    flag: 'tls-cert',
    kind: 'file',
    defaultValue: null,
    help: 'PEM certificate (chain) for amqps (with --tls-key)',
  }),
  setting({
    key: 'tlsKeyFile',
    flag: 'tls-key',
    kind: 'file',
    defaultValue: null,
    help: 'PEM private key for amqps',
  }),
  setting({
    key: 'tlsCaFile',
    flag: 'tls-ca',
    kind: 'file',
    defaultValue: null,
    help: 'PEM CA bundle that signs client certificates',
  }),
  setting({
    key: 'isTlsVerifyPeer',
    flag: 'tls-verify-peer',
    kind: 'switch',
    defaultValue: false,
    help: 'require a client certificate signed by --tls-ca on amqps: on or off',
    details:
      "RabbitMQ's `verify_peer` with `fail_if_no_peer_cert`; such clients may log in with EXTERNAL",
  }),
  setting({
    key: 'heartbeatSeconds',
    flag: 'heartbeat',
    kind: 'integer',
    min: 0,
    max: 65535,
    defaultValue: 60,
    help: 'heartbeat suggested in connection.tune, seconds (0 = off)',
  }),
  setting({
    key: 'frameMaxBytes',
    flag: 'frame-max',
    kind: 'integer',
    min: 4096,
    max: 1 << 30,
    defaultValue: 131072,
    help: 'largest frame accepted and suggested, bytes',
  }),
  setting({
    key: 'channelMax',
    flag: 'channel-max',
    kind: 'integer',
    min: 1,
    max: 65535,
    defaultValue: 2047,
    help: 'most open channels per connection',
  }),
  setting({
    key: 'messageMaxBytes',
    flag: 'max-message-size',
    kind: 'integer',
    min: 0,
    max: 512 * MiB,
    defaultValue: 128 * MiB,
    help: "largest message body accepted, bytes (RabbitMQ's max_message_size)",
  }),
  setting({
    key: 'ringBytes',
    flag: 'ring-bytes',
    kind: 'integer',
    min: 65536,
    max: 1 << 30,
    defaultValue: 8 * MiB,
    check: (value: number) =>
      (value & (value - 1)) === 0 ? null : `expected a power of two, got ${value}`,
    help: 'bytes per shard ring, each direction (a power of two)',
  }),
  setting({
    key: 'definitionsFile',
    flag: 'definitions',
    kind: 'file',
    defaultValue: null,
    defaultText: '<data dir>/definitions.json if present',
    help: 'RabbitMQ definitions JSON loaded at start',
  }),
  setting({
    key: 'fsyncMode',
    flag: 'fsync',
    kind: 'choice',
    choices: ['batch', 'interval', 'off'],
    defaultValue: DEFAULT_LOG_OPTIONS.fsyncMode,
    help: 'when a log append counts as durable: batch, interval or off (unsafe)',
    details: '`batch` fdatasyncs every group-commit batch before its confirms',
  }),
  setting({
    key: 'fsyncIntervalMs',
    flag: 'fsync-interval-ms',
    kind: 'integer',
    min: 1,
    max: 60_000,
    defaultValue: DEFAULT_LOG_OPTIONS.fsyncIntervalMs,
    help: 'interval mode: most time between fdatasyncs, ms',
  }),
  setting({
    key: 'fsyncBatchDelayMs',
    flag: 'fsync-batch-delay-ms',
    kind: 'integer',
    min: 0,
    max: 1000,
    defaultValue: DEFAULT_LOG_OPTIONS.batchDelayMs,
    help: 'batch mode: wait this long so more publishes share one sync, ms',
  }),
  setting({
    key: 'segmentBytesMax',
    flag: 'segment-bytes',
    kind: 'integer',
    min: 64 * 1024,
    max: 1 << 30,
    defaultValue: DEFAULT_LOG_OPTIONS.segmentBytesMax,
    help: 'log segment size, bytes',
  }),
  setting({
    key: 'compactionMinBytes',
    flag: 'compaction-min-bytes',
    kind: 'integer',
    ...COUNT,
    defaultValue: DEFAULT_LOG_OPTIONS.compactionMinBytes,
    help: 'compact mostly dead segments while busy once a shard log holds this many bytes',
    details: 'an idle log compacts whatever its size',
  }),
  setting({
    key: 'queueMemoryBytes',
    flag: 'queue-memory-bytes',
    kind: 'integer',
    ...COUNT,
    defaultValue: 32 * MiB,
    help: 'message bodies kept in memory; beyond it they are read back from the log on delivery',
    details: 'split over the shards; transient bodies are written to the log first',
  }),
  setting({
    key: 'memoryHighWatermark',
    flag: 'memory-high-watermark',
    kind: 'decimal',
    min: Number.MIN_VALUE,
    max: Number.MAX_VALUE,
    defaultValue: 0.4,
    help: 'memory alarm (blocks publishers): a fraction of RAM if <= 1, else bytes of RSS',
  }),
  setting({
    key: 'diskFreeLimitBytes',
    flag: 'disk-free-limit',
    kind: 'integer',
    ...COUNT,
    defaultValue: 50_000_000,
    help: "disk alarm (blocks publishers) below this many free bytes on the data dir's disk",
    details: 'a shard log that fails writes (disk full, I/O error) raises the same alarm',
  }),
  setting({
    key: 'consumerTimeoutMs',
    flag: 'consumer-timeout-ms',
    kind: 'integer',
    min: 0,
    max: 2 ** 31 - 1,
    defaultValue: 1_800_000,
    help: 'close a channel whose delivery stays unacked this long with 406, ms (0 = off)',
    details: "RabbitMQ's `consumer_timeout`",
  }),
  setting({
    key: 'shardPingTimeoutMs',
    flag: 'shard-ping-timeout-ms',
    kind: 'integer',
    min: 100,
    max: 600_000,
    defaultValue: 5000,
    help: 'a shard leaving a liveness ping unanswered this long fails the health checks, ms',
    details: 'pings go out about once a second; the checks answer 503',
  }),
  setting({
    key: 'logLevel',
    flag: 'log-level',
    kind: 'choice',
    choices: LOG_LEVELS,
    defaultValue: 'info',
    libraryDefaultText: LIBRARY_LOG_LEVEL,
    help: 'least severe level logged: debug, info, warn, error or silent',
    details: 'changeable at run time: `PUT /api/warren/log-level` or `warren ctl set-log-level`',
  }),
  setting({
    key: 'logFormat',
    flag: 'log-format',
    kind: 'choice',
    choices: LOG_FORMATS,
    defaultValue: 'human',
    help: 'human (readable lines) or json (one JSON object per line), both on stderr',
  }),
  setting({
    key: 'defaultUser',
    flag: null,
    kind: 'text',
    defaultValue: 'guest',
    help: 'the user created when no definitions name any user',
  }),
  setting({
    key: 'defaultPassword',
    flag: null,
    kind: 'text',
    defaultValue: 'guest',
    help: "the default user's password",
  }),
  setting({
    key: 'loopbackUsers',
    flag: null,
    kind: 'names',
    defaultValue: ['guest'],
    help: "users that may only connect from loopback (RabbitMQ's loopback_users)",
  }),
  setting({
    key: 'socketWriteHighBytes',
    flag: null,
    kind: 'integer',
    min: 1024,
    max: Number.MAX_SAFE_INTEGER,
    defaultValue: 4 * MiB,
    help: "bytes queued for a client's socket above which its deliveries pause",
  }),
];

const SETTING_BY_KEY = new Map<string, Setting>(SETTINGS.map((entry) => [entry.key, entry]));

/** The schema entry of an option key, or undefined for a key that is no setting. */
export function settingOf(key: string): Setting | undefined {
  return SETTING_BY_KEY.get(key);
}

/**
 * A setting with a value that cannot work, whoever gave it. `problem` says what is wrong without
 * naming the setting; the message puts the name the user knows first (an option key from
 * startBroker(), a flag, an environment variable or a config file key from the command line).
 */
export class SettingError extends RangeError {
  readonly code = 'ERR_WARREN_SETTING';
  readonly setting: keyof BrokerOptions;
  readonly problem: string;

  constructor(setting: keyof BrokerOptions, problem: string, name: string = setting) {
    super(`${name}: ${problem}`);
    this.name = 'SettingError';
    this.setting = setting;
    this.problem = problem;
  }
}

/** How a setting is named in messages; startBroker() uses the option key. */
export type SettingNamer = (key: keyof BrokerOptions) => string;

const byKey: SettingNamer = (key) => key;

function shown(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

function listed(choices: readonly string[]): string {
  return choices.length < 2
    ? choices.join('')
    : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]!}`;
}

/** What is wrong with a value of the right kind for this setting, or null. */
export function problemWith(entry: Setting, value: unknown): string | null {
  switch (entry.kind) {
    case 'integer': {
      const isInRange =
        Number.isSafeInteger(value) &&
        (value as number) >= entry.min &&
        (value as number) <= entry.max;
      if (isInRange) break;
      const range =
        entry.max === Number.MAX_SAFE_INTEGER
          ? `an integer of at least ${entry.min}`
          : `an integer from ${entry.min} to ${entry.max}`;
      return `expected ${range}, got ${shown(value)}`;
    }
    case 'decimal':
      if (typeof value === 'number' && value >= entry.min && value <= entry.max) break;
      return `expected a number above 0, got ${shown(value)}`;
    case 'choice':
      if (typeof value === 'string' && entry.choices.includes(value)) break;
      return `expected ${listed(entry.choices)}, got ${shown(value)}`;
    case 'switch':
      if (typeof value === 'boolean') break;
      return `expected on or off, got ${shown(value)}`;
    case 'text':
      if (typeof value === 'string' && value !== '') break;
      return `expected text, got ${shown(value)}`;
    case 'file':
      if (value === null || (typeof value === 'string' && value !== '')) break;
      return `expected a file name, got ${shown(value)}`;
    case 'names':
      if (Array.isArray(value) && value.every((name) => typeof name === 'string')) break;
      return `expected a list of names, got ${shown(value)}`;
  }
  return entry.check === null ? null : entry.check(value as never);
}

/**
 * Reads a setting's value as text or JSON gives it (a flag, an environment variable, a config
 * file) and checks it; throws a SettingError under `name`.
 */
export function readSettingValue(entry: Setting, raw: unknown, name: string): unknown {
  const value = convertSettingValue(entry, raw);
  const problem =
    value === undefined
      ? `expected ${expectedText(entry)}, got ${shown(raw)}`
      : problemWith(entry, value);
  if (problem !== null) throw new SettingError(entry.key, problem, name);
  return value;
}

function expectedText(entry: Setting): string {
  if (entry.kind === 'integer') return 'an integer';
  if (entry.kind === 'decimal') return 'a number';
  if (entry.kind === 'switch') return 'on or off';
  if (entry.kind === 'choice') return listed(entry.choices);
  return 'text';
}

/** The value text or JSON stands for, or undefined when it cannot be one of this kind. */
function convertSettingValue(entry: Setting, raw: unknown): unknown {
  switch (entry.kind) {
    case 'integer':
      // Only plain decimal digits: Number() would read '' as 0 and accept 0x10 or 1e3.
      if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
      return typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw.trim()) : undefined;
    case 'decimal':
      if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
      return typeof raw === 'string' && /^\s*(\d+\.?\d*|\.\d+)\s*$/.test(raw)
        ? Number(raw.trim())
        : undefined;
    case 'switch':
      if (raw === true || ['on', 'true', '1', 'yes'].includes(String(raw))) return true;
      if (raw === false || ['off', 'false', '0', 'no'].includes(String(raw))) return false;
      return undefined;
    case 'names':
      if (Array.isArray(raw)) return raw;
      return typeof raw === 'string' ? raw.split(',').filter((name) => name !== '') : undefined;
    default:
      return typeof raw === 'string' ? raw : undefined;
  }
}

/** The command line's defaults for every setting. */
export function defaultOptions(): BrokerOptions {
  const options: Record<string, unknown> = {};
  for (const entry of SETTINGS) options[entry.key] = entry.defaultValue();
  return options as unknown as BrokerOptions;
}

/**
 * Fills defaults and checks every value; throws a SettingError naming the first bad setting as
 * `nameOf` does (the option key by default).
 */
export function resolveOptions(
  partial: Partial<BrokerOptions>,
  nameOf: SettingNamer = byKey,
): BrokerOptions {
  for (const key of Object.keys(partial)) {
    if (settingOf(key) === undefined) {
      throw new SettingError(key as keyof BrokerOptions, `no such setting`, key);
    }
  }
  const options: BrokerOptions = { ...defaultOptions(), ...stripUndefined(partial) };
  for (const entry of SETTINGS) {
    const problem = problemWith(entry, options[entry.key]);
    if (problem !== null) throw new SettingError(entry.key, problem, nameOf(entry.key));
  }
  const together = (first: keyof BrokerOptions, second: keyof BrokerOptions) => {
    if ((options[first] === null) !== (options[second] === null)) {
      const given = options[first] === null ? second : first;
      throw new SettingError(
        given,
        `needs ${nameOf(given === first ? second : first)} too (give both or neither)`,
        nameOf(given),
      );
    }
  };
  together('tlsCertFile', 'tlsKeyFile');
  together('mgmtTlsCertFile', 'mgmtTlsKeyFile');
  if (options.isTlsVerifyPeer && options.tlsCaFile === null) {
    throw new SettingError(
      'isTlsVerifyPeer',
      `needs ${nameOf('tlsCaFile')}, the CA that signs client certificates`,
      nameOf('isTlsVerifyPeer'),
    );
  }
  return options;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const result: Partial<T> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== undefined) (result as Record<string, unknown>)[key] = entry;
  }
  return result;
}
