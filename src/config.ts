// Turns command-line flags, WARREN_* environment variables and an optional JSON config file
// into BrokerOptions. Precedence: flag, then environment, then config file, then default.
// One table below drives all three sources and the README's settings table.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type BrokerOptions, LOG_FORMATS, LOG_LEVELS } from './net/index.js';

export interface Setting {
  key: keyof BrokerOptions;
  flag: string;
  env: string;
  kind: 'integer' | 'decimal' | 'string' | 'path' | 'level' | 'logFormat' | 'fsync' | 'switch';
  help: string;
}

export const SETTINGS: Setting[] = [
  {
    key: 'port',
    flag: 'port',
    env: 'WARREN_PORT',
    kind: 'integer',
    help: 'AMQP port (0 picks a free one)',
  },
  { key: 'bind', flag: 'bind', env: 'WARREN_BIND', kind: 'string', help: 'address to listen on' },
  {
    key: 'shardCount',
    flag: 'shards',
    env: 'WARREN_SHARDS',
    kind: 'integer',
    help: 'worker-thread shards holding queues (default: cores - 1, at least 1)',
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'WARREN_DATA_DIR',
    kind: 'path',
    help: 'directory for durable state',
  },
  {
    key: 'mgmtPort',
    flag: 'mgmt-port',
    env: 'WARREN_MGMT_PORT',
    kind: 'integer',
    help: 'management HTTP port: API, web UI, /metrics (0 picks a free one)',
  },
  {
    key: 'isMgmtEnabled',
    flag: 'mgmt',
    env: 'WARREN_MGMT',
    kind: 'switch',
    help: 'management HTTP server on or off (--no-mgmt = off)',
  },
  {
    key: 'mgmtTlsCertFile',
    flag: 'mgmt-tls-cert',
    env: 'WARREN_MGMT_TLS_CERT',
    kind: 'path',
    help: 'PEM certificate (chain): the management server speaks HTTPS (with --mgmt-tls-key)',
  },
  {
    key: 'mgmtTlsKeyFile',
    flag: 'mgmt-tls-key',
    env: 'WARREN_MGMT_TLS_KEY',
    kind: 'path',
    help: 'PEM private key for the management server',
  },
  {
    key: 'connectionMax',
    flag: 'max-connections',
    env: 'WARREN_MAX_CONNECTIONS',
    kind: 'integer',
    help: 'most open AMQP connections; more are refused with 530 at connection.open (0 = no limit)',
  },
  {
    key: 'queueMaxPerVhost',
    flag: 'max-queues-per-vhost',
    env: 'WARREN_MAX_QUEUES_PER_VHOST',
    kind: 'integer',
    help: 'most queues in one vhost; more declares fail with 406 (0 = no limit)',
  },
  {
    key: 'tlsPort',
    flag: 'tls-port',
    env: 'WARREN_TLS_PORT',
    kind: 'integer',
    help: 'amqps port, listening when a certificate and key are given (default 5671)',
  },
  {
    key: 'tlsCertFile',
    flag: 'tls-cert',
    env: 'WARREN_TLS_CERT',
    kind: 'path',
    help: 'PEM certificate (chain) for amqps',
  },
  {
    key: 'tlsKeyFile',
    flag: 'tls-key',
    env: 'WARREN_TLS_KEY',
    kind: 'path',
    help: 'PEM private key for amqps',
  },
  {
    key: 'tlsCaFile',
    flag: 'tls-ca',
    env: 'WARREN_TLS_CA',
    kind: 'path',
    help: 'PEM CA bundle that signs client certificates',
  },
  {
    key: 'isTlsVerifyPeer',
    flag: 'tls-verify-peer',
    env: 'WARREN_TLS_VERIFY_PEER',
    kind: 'switch',
    help: 'require a valid client certificate on amqps (then EXTERNAL login works)',
  },
  {
    key: 'heartbeatSeconds',
    flag: 'heartbeat',
    env: 'WARREN_HEARTBEAT',
    kind: 'integer',
    help: 'heartbeat suggested in connection.tune, seconds (0 = off)',
  },
  {
    key: 'frameMaxBytes',
    flag: 'frame-max',
    env: 'WARREN_FRAME_MAX',
    kind: 'integer',
    help: 'largest frame accepted, bytes',
  },
  {
    key: 'channelMax',
    flag: 'channel-max',
    env: 'WARREN_CHANNEL_MAX',
    kind: 'integer',
    help: 'most open channels per connection',
  },
  {
    key: 'messageMaxBytes',
    flag: 'max-message-size',
    env: 'WARREN_MAX_MESSAGE_SIZE',
    kind: 'integer',
    help: 'largest message body accepted, bytes',
  },
  {
    key: 'ringBytes',
    flag: 'ring-bytes',
    env: 'WARREN_RING_BYTES',
    kind: 'integer',
    help: 'bytes per shard ring, each direction (power of two)',
  },
  {
    key: 'definitionsFile',
    flag: 'definitions',
    env: 'WARREN_DEFINITIONS',
    kind: 'path',
    help: 'RabbitMQ definitions JSON loaded at start',
  },
  {
    key: 'fsyncMode',
    flag: 'fsync',
    env: 'WARREN_FSYNC',
    kind: 'fsync',
    help: 'batch (fdatasync before every confirm), interval, or off (unsafe)',
  },
  {
    key: 'fsyncIntervalMs',
    flag: 'fsync-interval-ms',
    env: 'WARREN_FSYNC_INTERVAL_MS',
    kind: 'integer',
    help: 'interval mode: most time between fdatasyncs, ms',
  },
  {
    key: 'fsyncBatchDelayMs',
    flag: 'fsync-batch-delay-ms',
    env: 'WARREN_FSYNC_BATCH_DELAY_MS',
    kind: 'integer',
    help: 'batch mode: wait this long so more publishes share one sync, ms',
  },
  {
    key: 'segmentBytesMax',
    flag: 'segment-bytes',
    env: 'WARREN_SEGMENT_BYTES',
    kind: 'integer',
    help: 'log segment size, bytes',
  },
  {
    key: 'compactionMinBytes',
    flag: 'compaction-min-bytes',
    env: 'WARREN_COMPACTION_MIN_BYTES',
    kind: 'integer',
    help: 'compact mostly dead log segments once a shard log holds this many bytes',
  },
  {
    key: 'queueMemoryBytes',
    flag: 'queue-memory-bytes',
    env: 'WARREN_QUEUE_MEMORY_BYTES',
    kind: 'integer',
    help: 'message bodies kept in memory; bodies beyond it are read back from the log on delivery',
  },
  {
    key: 'memoryHighWatermark',
    flag: 'memory-high-watermark',
    env: 'WARREN_MEMORY_HIGH_WATERMARK',
    kind: 'decimal',
    help: 'memory alarm (blocks publishers): fraction of RAM if <= 1 (default 0.4), else bytes',
  },
  {
    key: 'diskFreeLimitBytes',
    flag: 'disk-free-limit',
    env: 'WARREN_DISK_FREE_LIMIT',
    kind: 'integer',
    help: 'disk alarm (blocks publishers) below this many free bytes on the data dir (default 50 MB)',
  },
  {
    key: 'consumerTimeoutMs',
    flag: 'consumer-timeout-ms',
    env: 'WARREN_CONSUMER_TIMEOUT_MS',
    kind: 'integer',
    help: 'close a channel whose delivery stays unacked this long (406), 0 = off',
  },
  {
    key: 'shardPingTimeoutMs',
    flag: 'shard-ping-timeout-ms',
    env: 'WARREN_SHARD_PING_TIMEOUT_MS',
    kind: 'integer',
    help: 'a shard that leaves a liveness ping unanswered this long fails the health checks, ms',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'WARREN_LOG_LEVEL',
    kind: 'level',
    help: 'debug, info, warn, error or silent (changeable at run time: PUT /api/warren/log-level)',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    env: 'WARREN_LOG_FORMAT',
    kind: 'logFormat',
    help: 'human (readable lines) or json (one JSON object per line), both on stderr',
  },
];

const LEVELS: readonly string[] = LOG_LEVELS;

function convert(setting: Setting, raw: unknown, source: string): unknown {
  if (setting.kind === 'integer') {
    // Only plain decimal digits: Number() would read '' as 0 and accept 0x10 or 1e3.
    const isNumber = typeof raw === 'number' && Number.isSafeInteger(raw);
    const isDigits = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw);
    if (!isNumber && !isDigits)
      throw new Error(`${source}: expected an integer, got '${String(raw)}'`);
    return isNumber ? raw : Number(String(raw).trim());
  }
  if (setting.kind === 'decimal') {
    const isNumber = typeof raw === 'number' && Number.isFinite(raw);
    const isDecimal = typeof raw === 'string' && /^\s*(\d+\.?\d*|\.\d+)\s*$/.test(raw);
    if (!isNumber && !isDecimal)
      throw new Error(`${source}: expected a number, got '${String(raw)}'`);
    return isNumber ? raw : Number(String(raw).trim());
  }
  if (setting.kind === 'switch') {
    if (raw === true || ['on', 'true', '1', 'yes'].includes(String(raw))) return true;
    if (raw === false || ['off', 'false', '0', 'no'].includes(String(raw))) return false;
    throw new Error(`${source}: expected on or off, got '${String(raw)}'`);
  }
  if (setting.kind === 'fsync') {
    if (!['batch', 'interval', 'off'].includes(String(raw))) {
      throw new Error(`${source}: expected batch, interval or off, got '${String(raw)}'`);
    }
    return String(raw);
  }
  if (setting.kind === 'logFormat') {
    if (!(LOG_FORMATS as readonly string[]).includes(String(raw)))
      throw new Error(`${source}: expected human or json, got '${String(raw)}'`);
    return String(raw);
  }
  if (setting.kind === 'level') {
    if (!LEVELS.includes(String(raw)))
      throw new Error(`${source}: expected one of ${LEVELS.join(', ')}, got '${String(raw)}'`);
    return String(raw);
  }
  return String(raw);
}

export interface ParsedCommandLine {
  options: Partial<BrokerOptions>;
  isHelp: boolean;
}

/** Reads flags, environment and config file; throws an Error with a message for people. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  const flagOptions: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    // RabbitMQ-style shorthand for --mgmt off (node 20's parseArgs has no --no-* negation).
    'no-mgmt': { type: 'boolean' },
  };
  for (const setting of SETTINGS) flagOptions[setting.flag] = { type: 'string' };
  const { values } = parseArgs({
    args: argv,
    options: flagOptions,
    allowPositionals: false,
    strict: true,
  });
  const options: Partial<BrokerOptions> = {};
  const configPath = (values['config'] as string | undefined) ?? env['WARREN_CONFIG'];
  if (configPath !== undefined) {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${configPath}: ${(error as Error).message}`);
    }
    if (file === null || typeof file !== 'object' || Array.isArray(file)) {
      throw new Error(`${configPath}: expected a JSON object of settings`);
    }
    for (const [name, raw] of Object.entries(file)) {
      const setting = SETTINGS.find((entry) => entry.flag === name || entry.key === name);
      if (setting === undefined) throw new Error(`${configPath}: unknown setting '${name}'`);
      (options as Record<string, unknown>)[setting.key] = convert(
        setting,
        raw,
        `${configPath}: ${name}`,
      );
    }
  }
  for (const setting of SETTINGS) {
    const fromEnv = env[setting.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      (options as Record<string, unknown>)[setting.key] = convert(setting, fromEnv, setting.env);
    }
    const fromFlag = values[setting.flag];
    if (fromFlag !== undefined) {
      (options as Record<string, unknown>)[setting.key] = convert(
        setting,
        fromFlag,
        `--${setting.flag}`,
      );
    }
  }
  if (values['no-mgmt'] === true) options.isMgmtEnabled = false;
  return { options, isHelp: values['help'] === true };
}

export function usage(): string {
  const lines = ['Usage: warren [options]', '', 'Options (each also as an environment variable):'];
  for (const setting of SETTINGS) {
    lines.push(`  --${setting.flag.padEnd(18)} ${setting.env.padEnd(26)} ${setting.help}`);
  }
  lines.push(`  --${'no-mgmt'.padEnd(18)} ${''.padEnd(26)} same as --mgmt off`);
  lines.push(
    `  --${'config'.padEnd(18)} ${'WARREN_CONFIG'.padEnd(26)} JSON file of settings (flag names as keys)`,
  );
  return lines.join('\n');
}
