// A small client for the management HTTP API in tests: real HTTP (fetch) against a broker's
// mgmtPort, Basic auth as guest unless told otherwise, JSON in and out.

import { startTestBroker, type TestBroker } from './broker.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or the text when it is not JSON, or null when empty. */
  body: unknown;
}

export interface ApiOptions {
  body?: unknown;
  /** A raw body sent as is (for malformed JSON tests). */
  rawBody?: string;
  /** 'user:password'; null sends no Authorization header. */
  credentials?: string | null;
  headers?: Record<string, string>;
}

export function mgmtUrl(broker: TestBroker, path: string): string {
  if (broker.mgmtPort === null) throw new Error('management is off for this broker');
  return `http://127.0.0.1:${broker.mgmtPort}${path}`;
}

export async function api(
  broker: TestBroker,
  method: string,
  path: string,
  options: ApiOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const credentials = options.credentials === undefined ? 'guest:guest' : options.credentials;
  if (credentials !== null) {
    headers['Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(mgmtUrl(broker, path), {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** "%2F" for the default vhost, as RabbitMQ's API paths spell it. */
export function vhostPath(vhost: string): string {
  return encodeURIComponent(vhost);
}

/**
 * How tests poll the API for statistics with pollUntil: the broker samples them about once a
 * second, so a few seconds' patience and a request every 200 ms.
 */
export const STATS_POLL = { timeoutMs: 8000, intervalMs: 200 } as const;

export { startTestBroker, type TestBroker };
