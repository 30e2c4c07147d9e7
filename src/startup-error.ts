// What stops the `warren` process before its ready line, as one line for people and an exit
// code: 2 for settings that cannot work (fix the command), 1 for the machine around them (a port
// in use, a data directory that is a file). Each line names the setting as the user gave it: a
// flag, an environment variable or a config file key. main.ts prints the line.

import { type ParsedCommandLine, settingName, settingWithValue, UsageError } from './config.js';
import { SettingError } from './net/index.js';
import { BrokerStartError } from './start-broker.js';

/**
 * A listener that could not bind, as the network layer reports it: node's errno name in `code`
 * and the port setting it was binding for.
 */
export interface ListenFailure extends Error {
  code: string;
  setting: 'port' | 'tlsPort' | 'mgmtPort';
  port: number;
  address: string;
}

export function isListenFailure(error: unknown): error is ListenFailure {
  const failure = error as Partial<ListenFailure> | null;
  return (
    error instanceof Error &&
    typeof failure?.code === 'string' &&
    (failure.setting === 'port' || failure.setting === 'tlsPort' || failure.setting === 'mgmtPort')
  );
}

export interface StartupFailure {
  /** One line, without its newline. */
  line: string;
  exitCode: 1 | 2;
}

/** `parsed` is null when the command line itself could not be read. */
export function explainStartupError(
  error: unknown,
  parsed: ParsedCommandLine | null,
): StartupFailure {
  const named = parsed ?? { options: {}, isHelp: false, sources: {} };
  if (error instanceof UsageError || error instanceof SettingError) {
    return { line: `warren: ${error.message}`, exitCode: 2 };
  }
  if (error instanceof BrokerStartError) {
    const value = settingWithValue(named, error.setting, error.value);
    return { line: `warren: ${value}: ${error.problem}`, exitCode: 1 };
  }
  if (isListenFailure(error))
    return { line: `warren: ${listenProblem(error, named)}`, exitCode: 1 };
  const text = error instanceof Error ? error.message : String(error);
  return { line: `warren: ${text}`, exitCode: 1 };
}

function listenProblem(error: ListenFailure, parsed: ParsedCommandLine): string {
  const host = error.address.includes(':') ? `[${error.address}]` : error.address;
  const where = `${host}:${error.port}`;
  const port = settingWithValue(parsed, error.setting, error.port);
  switch (error.code) {
    case 'EADDRINUSE':
      return `${port}: address ${where} is already in use`;
    case 'EACCES':
      return `${port}: no permission to listen on ${where} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      // The port is fine; the address is not one of this machine's.
      return `${settingWithValue(parsed, 'bind', error.address)}: not an address of this machine (listening for ${settingName(parsed, error.setting)})`;
    default:
      return `${port}: cannot listen on ${where} (${error.code})`;
  }
}
