// The broker's settings: one typed object with RabbitMQ-like defaults. The CLI and environment
// parsing live in src/config.ts; startBroker() takes a partial object and fills the rest here.

import { availableParallelism } from 'node:os';
import { isLogLevel, LOG_FORMATS, type LogFormat, type LogLevel } from './logger.js';

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

export function defaultShardCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function defaultOptions(): BrokerOptions {
  return {
    port: 5672,
    bind: '0.0.0.0',
    shardCount: defaultShardCount(),
    dataDir: './data',
    mgmtPort: 15672,
    isMgmtEnabled: true,
    mgmtTlsCertFile: null,
    mgmtTlsKeyFile: null,
    heartbeatSeconds: 60,
    frameMaxBytes: 131072,
    channelMax: 2047,
    messageMaxBytes: 128 * 1024 * 1024,
    ringBytes: 8 * 1024 * 1024,
    definitionsFile: null,
    connectionMax: 0,
    queueMaxPerVhost: 0,
    tlsPort: 5671,
    tlsCertFile: null,
    tlsKeyFile: null,
    tlsCaFile: null,
    isTlsVerifyPeer: false,
    defaultUser: 'guest',
    defaultPassword: 'guest',
    loopbackUsers: ['guest'],
    socketWriteHighBytes: 4 * 1024 * 1024,
    fsyncMode: 'batch',
    fsyncIntervalMs: 10,
    fsyncBatchDelayMs: 0,
    segmentBytesMax: 64 * 1024 * 1024,
    compactionMinBytes: 256 * 1024 * 1024,
    queueMemoryBytes: 32 * 1024 * 1024,
    memoryHighWatermark: 0.4,
    diskFreeLimitBytes: 50_000_000,
    consumerTimeoutMs: 1_800_000,
    logLevel: 'info',
    logFormat: 'human',
    shardPingTimeoutMs: 5000,
  };
}

/** Fills defaults and checks ranges; throws a RangeError naming the bad setting. */
export function resolveOptions(partial: Partial<BrokerOptions>): BrokerOptions {
  const options: BrokerOptions = { ...defaultOptions(), ...stripUndefined(partial) };
  checkInteger('port', options.port, 0, 65535);
  checkInteger('mgmtPort', options.mgmtPort, 0, 65535);
  checkInteger('tlsPort', options.tlsPort, 0, 65535);
  checkInteger('connectionMax', options.connectionMax, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('queueMaxPerVhost', options.queueMaxPerVhost, 0, Number.MAX_SAFE_INTEGER);
  if ((options.tlsCertFile === null) !== (options.tlsKeyFile === null)) {
    throw new RangeError('tlsCertFile and tlsKeyFile go together: give both or neither');
  }
  if ((options.mgmtTlsCertFile === null) !== (options.mgmtTlsKeyFile === null)) {
    throw new RangeError('mgmtTlsCertFile and mgmtTlsKeyFile go together: give both or neither');
  }
  if (options.isTlsVerifyPeer && options.tlsCaFile === null) {
    throw new RangeError('isTlsVerifyPeer needs tlsCaFile, the CA that signs client certificates');
  }
  checkInteger('shardCount', options.shardCount, 1, 30);
  checkInteger('heartbeatSeconds', options.heartbeatSeconds, 0, 65535);
  checkInteger('frameMaxBytes', options.frameMaxBytes, 4096, 1 << 30);
  checkInteger('channelMax', options.channelMax, 1, 65535);
  checkInteger('messageMaxBytes', options.messageMaxBytes, 0, 512 * 1024 * 1024);
  checkInteger('ringBytes', options.ringBytes, 65536, 1 << 30);
  checkInteger('fsyncIntervalMs', options.fsyncIntervalMs, 1, 60_000);
  checkInteger('fsyncBatchDelayMs', options.fsyncBatchDelayMs, 0, 1000);
  checkInteger('segmentBytesMax', options.segmentBytesMax, 64 * 1024, 1 << 30);
  checkInteger('compactionMinBytes', options.compactionMinBytes, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('queueMemoryBytes', options.queueMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('diskFreeLimitBytes', options.diskFreeLimitBytes, 0, Number.MAX_SAFE_INTEGER);
  if (!(Number.isFinite(options.memoryHighWatermark) && options.memoryHighWatermark > 0)) {
    throw new RangeError(
      `memoryHighWatermark must be a fraction of RAM (0 < x <= 1) or bytes, got ${options.memoryHighWatermark}`,
    );
  }
  if (typeof options.isMgmtEnabled !== 'boolean') {
    throw new RangeError(
      `isMgmtEnabled must be true or false, got ${String(options.isMgmtEnabled)}`,
    );
  }
  checkInteger('consumerTimeoutMs', options.consumerTimeoutMs, 0, 2 ** 31 - 1);
  if (!['batch', 'interval', 'off'].includes(options.fsyncMode)) {
    throw new RangeError(
      `fsyncMode must be batch, interval or off, got ${String(options.fsyncMode)}`,
    );
  }
  checkInteger('shardPingTimeoutMs', options.shardPingTimeoutMs, 100, 600_000);
  if (!isLogLevel(options.logLevel)) {
    throw new RangeError(
      `logLevel must be debug, info, warn, error or silent, got ${String(options.logLevel)}`,
    );
  }
  if (!LOG_FORMATS.includes(options.logFormat)) {
    throw new RangeError(`logFormat must be human or json, got ${String(options.logFormat)}`);
  }
  if ((options.ringBytes & (options.ringBytes - 1)) !== 0) {
    throw new RangeError(`ringBytes must be a power of two, got ${options.ringBytes}`);
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

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
