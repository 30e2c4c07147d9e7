// Starts the whole broker in this process: the AMQP side (src/net) and, unless turned off, the
// management HTTP server (src/mgmt) on the same bind address. The library API and main.ts
// both start the broker here, after checking what the settings point at (the data directory,
// certificate and definitions files), so such a mistake fails before any shard recovers.

import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type HttpEngineName, startManagement } from './mgmt/index.js';
import {
  Broker,
  type BrokerOptions as ResolvedBrokerOptions,
  LIBRARY_LOG_LEVEL,
  resolveOptions,
} from './net/index.js';

export type { ResolvedBrokerOptions };

/**
 * Settings for startBroker(), each optional (the option keys of the settings table in
 * docs/operations.md). Two defaults differ from the command line's: without `dataDir` the
 * broker gets a new temporary directory that close() removes, and it logs at `warn`.
 */
export type BrokerOptions = Partial<ResolvedBrokerOptions>;

/** What startBroker() returns. */
export interface RunningBroker {
  /** The AMQP port actually bound (useful with port 0). */
  port: number;
  /** The amqps port bound, or null when no certificate is configured. */
  tlsPort: number | null;
  /** The management HTTP port bound, or null when management is off. */
  mgmtPort: number | null;
  /** Which HTTP server serves management (uWebSockets.js or node:http), or null when off. */
  mgmtEngine: HttpEngineName | null;
  /** The broker itself, for in-process inspection. */
  broker: Broker;
  /**
   * Stops the management server, closes connections with 320 CONNECTION_FORCED, stops the
   * shards and releases the ports.
   */
  close(): Promise<void>;
}

/**
 * What a setting points at cannot be used: a data directory that is a file or not writable, a
 * certificate that is missing. `setting` is the option key, `problem` says what is wrong.
 */
export class BrokerStartError extends Error {
  readonly setting: keyof ResolvedBrokerOptions;
  readonly value: unknown;
  readonly problem: string;
  /** The errno name behind it (ENOTDIR, EACCES, ENOENT...), or ERR_WARREN_START. */
  readonly code: string;

  constructor(setting: keyof ResolvedBrokerOptions, value: unknown, problem: string, code: string) {
    super(`${setting} ${String(value)}: ${problem}`);
    this.name = 'BrokerStartError';
    this.setting = setting;
    this.value = value;
    this.problem = problem;
    this.code = code;
  }
}

/**
 * Starts a broker with the given options; the rest take their defaults (see BrokerOptions).
 * Port 0 (and mgmtPort 0) picks a free port. close() stops the management server, then the
 * broker, then removes the temporary data directory if it made one.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  const resolved = resolveOptions({ logLevel: LIBRARY_LOG_LEVEL, ...options });
  if (options.dataDir !== undefined) return startResolved(resolved);
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  let running;
  try {
    running = await startResolved({ ...resolved, dataDir });
  } catch (error) {
    removeDataDir();
    throw error;
  }
  return {
    ...running,
    close: async () => {
      await running.close();
      removeDataDir();
    },
  };
}

/** main.ts: the command line's defaults (./data, info) for what `options` leaves out. */
export function startCommandLineBroker(options: BrokerOptions): Promise<RunningBroker> {
  return startResolved(resolveOptions(options));
}

async function startResolved(options: ResolvedBrokerOptions): Promise<RunningBroker> {
  checkDataDir(options.dataDir);
  for (const key of FILE_SETTINGS) checkReadableFile(key, options[key]);
  checkDefinitionsFile(options.definitionsFile);
  // The listeners bind before the shards recover: a taken port fails here at once, as a
  // ListenError naming its setting.
  const broker = new Broker(options);
  const port = await broker.start();
  const running = { port, tlsPort: broker.tlsPort, broker };
  if (!options.isMgmtEnabled) {
    return { ...running, mgmtPort: null, mgmtEngine: null, close: () => broker.stop() };
  }
  let management;
  try {
    management = await startManagement(broker, port);
  } catch (error) {
    await broker.stop();
    throw error;
  }
  return {
    ...running,
    mgmtPort: management.port,
    mgmtEngine: management.engine,
    close: async () => {
      management.close();
      await broker.stop();
    },
  };
}

const FILE_SETTINGS = [
  'tlsCertFile',
  'tlsKeyFile',
  'tlsCaFile',
  'mgmtTlsCertFile',
  'mgmtTlsKeyFile',
] as const satisfies readonly (keyof ResolvedBrokerOptions)[];

function errnoOf(error: unknown): string {
  return String((error as { code?: unknown }).code ?? 'ERR_WARREN_START');
}

/** Creates the data directory if needed and checks that the broker can write there. */
function checkDataDir(dataDir: string): void {
  const fail = (problem: string, code: string) => {
    throw new BrokerStartError('dataDir', dataDir, problem, code);
  };
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') fail('is a file, not a directory', 'ENOTDIR');
    if (code === 'ENOTDIR') fail(`${fileAncestor(dataDir)} is a file, not a directory`, code);
    if (code === 'EACCES' || code === 'EPERM') fail('cannot be created: permission denied', code);
    fail(`cannot be created: ${(error as Error).message}`, code);
  }
  for (const directory of [dataDir, join(dataDir, 'shards')]) {
    let stats;
    try {
      stats = statSync(directory);
    } catch {
      continue;
    }
    if (!stats.isDirectory()) {
      fail(`${directory === dataDir ? 'it' : directory} is a file, not a directory`, 'ENOTDIR');
    }
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    fail('is not writable: permission denied', errnoOf(error));
  }
}

/** The nearest ancestor of `path` that exists and is not a directory (for ENOTDIR). */
function fileAncestor(path: string): string {
  for (let current = dirname(path); current !== dirname(current); current = dirname(current)) {
    try {
      if (!statSync(current).isDirectory()) return current;
    } catch {
      // Not there: look further up.
    }
  }
  return path;
}

function checkReadableFile(key: keyof ResolvedBrokerOptions, path: string | null): void {
  if (path === null) return;
  let stats;
  try {
    stats = statSync(path);
    accessSync(path, constants.R_OK);
  } catch (error) {
    const code = errnoOf(error);
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'cannot be read: permission denied'
          : `cannot be read: ${(error as Error).message}`;
    throw new BrokerStartError(key, path, problem, code);
  }
  if (stats.isDirectory()) {
    throw new BrokerStartError(key, path, 'is a directory, not a file', 'EISDIR');
  }
}

function checkDefinitionsFile(path: string | null): void {
  if (path === null) return;
  checkReadableFile('definitionsFile', path);
  try {
    JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BrokerStartError(
      'definitionsFile',
      path,
      `not valid JSON (${(error as Error).message})`,
      'ERR_WARREN_START',
    );
  }
}
