// Turns command-line flags, WARREN_* environment variables and an optional JSON config file
// into broker options. Precedence: flag, then environment, then config file, then default.
// Every setting, its check and its help come from the schema in src/net/options.ts; this file
// only knows where a value came from, so that a message names the flag, the variable or the
// file key the user actually wrote.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type BrokerOptions,
  readSettingValue,
  resolveOptions,
  type Setting,
  SETTINGS,
} from './net/index.js';

/** A setting given on the command line whose value cannot work; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedCommandLine {
  /** The settings given, checked; the rest take the command line's defaults. */
  options: Partial<BrokerOptions>;
  isHelp: boolean;
  /** How the user named each setting given: '--port', 'WARREN_PORT' or 'file.json: port'. */
  sources: Partial<Record<keyof BrokerOptions, string>>;
}

const COMMAND_LINE_SETTINGS = SETTINGS.filter(
  (entry): entry is Setting & { flag: string; env: string } =>
    entry.flag !== null && entry.env !== null,
);

/**
 * Reads flags, environment and config file, and checks every value and range; throws a
 * SettingError (a bad value, named as given) or a UsageError (an unknown flag, an unreadable
 * config file).
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  const flagOptions: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    // RabbitMQ-style shorthand for --mgmt off (node 20's parseArgs has no --no-* negation).
    'no-mgmt': { type: 'boolean' },
  };
  for (const entry of COMMAND_LINE_SETTINGS) flagOptions[entry.flag] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: flagOptions, allowPositionals: false, strict: true })
      .values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError(argumentProblem(error as Error & { code?: string }));
  }
  const options: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const configPath = (values['config'] as string | undefined) ?? env['WARREN_CONFIG'];
  if (configPath !== undefined) {
    for (const [name, raw] of Object.entries(readConfigFile(configPath))) {
      const entry = COMMAND_LINE_SETTINGS.find((item) => item.flag === name || item.key === name);
      if (entry === undefined) throw new UsageError(`${configPath}: unknown setting '${name}'`);
      const source = `${configPath}: ${name}`;
      options[entry.key] = readSettingValue(entry, raw, source);
      sources[entry.key] = source;
    }
  }
  // Every source is read in full, so a broken environment never hides behind a flag.
  for (const entry of COMMAND_LINE_SETTINGS) {
    const fromEnv = env[entry.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      options[entry.key] = readSettingValue(entry, fromEnv, entry.env);
      sources[entry.key] = entry.env;
    }
    const fromFlag = values[entry.flag];
    if (fromFlag !== undefined) {
      options[entry.key] = readSettingValue(entry, fromFlag, `--${entry.flag}`);
      sources[entry.key] = `--${entry.flag}`;
    }
  }
  if (values['no-mgmt'] === true) {
    options['isMgmtEnabled'] = false;
    sources['isMgmtEnabled'] = '--no-mgmt';
  }
  const parsed: ParsedCommandLine = {
    options: options as Partial<BrokerOptions>,
    isHelp: values['help'] === true,
    sources: sources as ParsedCommandLine['sources'],
  };
  // Ranges and settings that go together, checked before anything starts.
  if (!parsed.isHelp) resolveOptions(parsed.options, (key) => settingName(parsed, key));
  return parsed;
}

function readConfigFile(path: string): Record<string, unknown> {
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
  if (file === null || typeof file !== 'object' || Array.isArray(file)) {
    throw new UsageError(`${path}: expected a JSON object of settings`);
  }
  return file as Record<string, unknown>;
}

/** node's parseArgs messages, shortened to what went wrong. */
function argumentProblem(error: Error & { code?: string }): string {
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined)
    return `unknown option ${option} (warren --help lists the options)`;
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const argument = /'([^']*)'/.exec(error.message)?.[1] ?? '';
    return `unexpected argument '${argument}'`;
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    const flag = option.split(' ')[0]!;
    return flag === '--help' || flag === '--no-mgmt'
      ? `${flag} takes no value`
      : `${flag} needs a value`;
  }
  return error.message;
}

/** How the user named a setting (or would name it: its flag, when they left it out). */
export function settingName(parsed: ParsedCommandLine, key: keyof BrokerOptions): string {
  const source = parsed.sources[key];
  if (source !== undefined) return source;
  const flag = SETTINGS.find((entry) => entry.key === key)?.flag;
  return flag === null || flag === undefined ? key : `--${flag}`;
}

/** A setting with its value as the user wrote it: '--port 5672', 'WARREN_PORT=5672'. */
export function settingWithValue(
  parsed: ParsedCommandLine,
  key: keyof BrokerOptions,
  value: unknown,
): string {
  const name = settingName(parsed, key);
  const text = String(value);
  return /^[A-Z_]+$/.test(name) ? `${name}=${text}` : `${name} ${text}`;
}

/** `warren --help`: the settings in aligned columns, with their defaults. */
export function usage(): string {
  const rows: [string, string, string][] = COMMAND_LINE_SETTINGS.map((entry) => [
    `--${entry.flag}`,
    entry.env,
    `${entry.help} [${entry.defaultText}]`,
  ]);
  rows.push(['--no-mgmt', '', 'same as --mgmt off']);
  rows.push(['--config', 'WARREN_CONFIG', 'JSON file of settings (flag names as keys)']);
  rows.push(['--help', '', 'this text']);
  const flagWidth = Math.max(...rows.map((row) => row[0].length));
  const envWidth = Math.max(...rows.map((row) => row[1].length));
  return [
    'Usage: warren [options]',
    '',
    'Options, each also an environment variable; [default]. Precedence: flag, environment,',
    '--config file. Other commands: warren help.',
    ...rows.map(([flag, variable, help]) =>
      `  ${flag.padEnd(flagWidth)}  ${variable.padEnd(envWidth)}  ${help}`.trimEnd(),
    ),
  ].join('\n');
}
