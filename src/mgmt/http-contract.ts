// The management HTTP server's contract, shared by its two engines (uws-server.ts and
// node-http-server.ts): the request and reply shapes, the body limit, and the errors a server
// reports. Pure: no I/O here.

export interface HttpRequest {
  /** Upper case: GET, PUT, POST, DELETE... */
  method: string;
  /** The path split at '/', each segment percent-decoded ('%2F' is the vhost '/'). */
  segments: string[];
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Map<string, string>;
  remoteAddress: string;
  body: Buffer;
}

export interface HttpReply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export type RequestHandler = (request: HttpRequest) => Promise<HttpReply>;

/** Which implementation serves HTTP; named in the ready line. */
export type HttpEngineName = 'uWebSockets.js' | 'node:http';

export interface HttpServer {
  /** The port bound (useful with port 0). */
  readonly port: number;
  readonly engine: HttpEngineName;
  /** Stops listening and drops open connections; once, or again to no effect. */
  close(): void;
}

/** PEM files for HTTPS. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** What both engines are given. */
export interface HttpServerSpec {
  host: string;
  port: number;
  tls: TlsFiles | null;
  handle: RequestHandler;
  onUnexpectedError: (error: Error) => void;
}

/** Largest request body read (definitions imports are the big ones). */
export const BODY_BYTES_MAX = 32 * 1024 * 1024;

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A failure to listen, as main.ts reports it: `code` is the errno string (EADDRINUSE...). */
export interface ListenError extends Error {
  code: string;
  setting: 'mgmtPort';
  port: number;
  address: string;
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'needs privileges this process does not have',
  EADDRNOTAVAIL: 'cannot be bound: the address is not on this machine',
};

/** The error for a management port that cannot be bound, with the errno string as its code. */
export function listenError(code: string, address: string, port: number): ListenError {
  const problem = LISTEN_PROBLEMS[code] ?? `cannot be bound (${code})`;
  const error = new Error(`management port ${port} on ${address} ${problem}`) as ListenError;
  error.code = code;
  error.setting = 'mgmtPort';
  error.port = port;
  error.address = address;
  return error;
}

/** Decodes each path segment; null when one is not valid percent-encoding. */
export function decodeSegments(path: string): string[] | null {
  const parts = path.split('/').slice(1);
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    return null;
  }
}

export function textReply(status: number, text: string): HttpReply {
  return { status, contentType: 'text/plain; charset=utf-8', body: text };
}

/** The reply for a handler that threw: a 500 with the error's text, logged once. */
export function failedReply(error: unknown, spec: HttpServerSpec): HttpReply {
  spec.onUnexpectedError(error as Error);
  return {
    status: 500,
    contentType: 'application/json',
    body: JSON.stringify({ error: 'internal_server_error', reason: String(error) }),
  };
}
