// Parses the amqp:// URI warren-perf connects to (RabbitMQ's URI spec: user, password, host, port
// and vhost, each percent-decoded) and masks its password for printing. Main thread; pure.

import { AMQP_PORT } from '../codec/index.js';
import { UsageError } from './errors.js';

/** Where and as whom to connect. */
export interface AmqpAddress {
  host: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** The URI with its password replaced by `***`, safe to print. */
  displayUri: string;
}

/**
 * Parses `amqp://user:pass@host:port/vhost`. A missing user and password mean guest/guest, a
 * missing port 5672, and a missing or empty path the default vhost `/` (write `/%2F` to be
 * explicit). Throws {@link UsageError} for anything else, including amqps:// (no TLS yet).
 */
export function parseAmqpUri(uri: string): AmqpAddress {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UsageError(`--uri ${uri} is not a URI (expected amqp://user:pass@host:port/vhost)`);
  }
  if (url.protocol === 'amqps:') {
    throw new UsageError(`--uri ${uri}: amqps (TLS) is not supported by warren-perf yet`);
  }
  if (url.protocol !== 'amqp:') {
    throw new UsageError(`--uri ${uri} must start with amqp://`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new UsageError(`--uri ${uri} has no host`);
  const port = url.port === '' ? AMQP_PORT : Number(url.port);
  const username = url.username === '' ? 'guest' : decodeURIComponent(url.username);
  const password =
    url.password === '' && url.username === '' ? 'guest' : decodeURIComponent(url.password);
  const path = url.pathname;
  if (path.length > 1 && path.indexOf('/', 1) !== -1) {
    throw new UsageError(`--uri ${uri}: a vhost containing '/' must be written %2F`);
  }
  const vhost = path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
  const masked = new URL(uri);
  if (masked.password !== '') masked.password = '***';
  return { host, port, username, password, vhost, displayUri: masked.href };
}
