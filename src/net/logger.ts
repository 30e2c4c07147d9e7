// The broker's logger: one pino instance on the network thread, writing to stderr either as
// readable lines (the default) or as JSON lines. Shard threads send their lines here over the
// control plane, so there is one stream and one level to change at run time. Nothing on the
// per-message path logs: connections, alarms, recovery and failures do, a few lines each.

import { pino, type Logger } from 'pino';
import { formatHumanLine } from './log-format.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'human' | 'json';
export type { Logger };

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['human', 'json'];

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * Keys that could hold a secret, blanked wherever they appear one level deep. No call site logs
 * them; this catches the one that someday would.
 */
const SECRET_KEYS = ['password', 'password_hash', 'passwordHash', 'response', 'authorization'];

/** `write` receives each finished line (tests); the default is stderr. */
export function createLogger(
  level: LogLevel,
  format: LogFormat,
  write: (text: string) => void = (text) => process.stderr.write(text),
): Logger {
  // process.stderr writes synchronously to files and pipes on Linux, so the last lines before
  // a crash (a failed shard) are not lost in a buffer.
  const destination =
    format === 'json' ? { write } : { write: (line: string) => write(formatHumanLine(line)) };
  return pino(
    {
      level,
      base: format === 'json' ? { pid: process.pid } : null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`)],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
