// The management HTTP server on uWebSockets.js. It reads each request whole (url and headers
// before the handler returns, as uWS requires; the body through onData, up to a limit), hands
// it to one async handler, and writes the reply corked, unless the client went away meanwhile.
// Runs on the broker's event loop (the network thread); handlers never touch the data path.

import { accessSync, constants } from 'node:fs';
import uWS from '@trufflesuite/uws-js-unofficial';

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

/** Largest request body read (definitions imports are the big ones). */
const BODY_BYTES_MAX = 32 * 1024 * 1024;

const STATUS_TEXT: Record<number, string> = {
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

export interface HttpServer {
  /** The port bound (useful with port 0). */
  readonly port: number;
  close(): void;
}

/** Decodes each path segment; null when one is not valid percent-encoding. */
function decodeSegments(path: string): string[] | null {
  const parts = path.split('/').slice(1);
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    return null;
  }
}

function textReply(status: number, text: string): HttpReply {
  return { status, contentType: 'text/plain; charset=utf-8', body: text };
}

/** PEM files for HTTPS. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** uWS reads the PEM files itself and only fails to listen when they are bad: check first. */
function checkReadable(tls: TlsFiles): void {
  for (const file of [tls.certFile, tls.keyFile]) {
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      throw new Error(`management: cannot read TLS file ${file}: ${(error as Error).message}`);
    }
  }
}

/**
 * Starts listening on host:port, over HTTPS when `tls` is given; resolves once bound, rejects
 * if the port is taken or the TLS files are unusable.
 */
export function startHttpServer(
  host: string,
  port: number,
  tls: TlsFiles | null,
  handle: RequestHandler,
  onUnexpectedError: (error: Error) => void,
): Promise<HttpServer> {
  if (tls !== null) checkReadable(tls);
  const app =
    tls === null
      ? uWS.App()
      : uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
  app.any('/*', (res, req) => {
    const state = { isDone: false };
    // Registered before any asynchronous step: uWS frees an aborted response.
    res.onAborted(() => {
      state.isDone = true;
    });
    const method = req.getMethod().toUpperCase();
    const url = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const headers = new Map<string, string>();
    req.forEach((name, value) => headers.set(name.toLowerCase(), value));
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString('utf8');
    const segments = decodeSegments(url);
    const reply = (result: HttpReply) => send(res, state, result);
    if (segments === null) {
      reply(textReply(400, 'bad percent-encoding in path'));
      return;
    }
    const respond = (body: Buffer) => {
      handle({ method, segments, query, headers, remoteAddress, body }).then(
        reply,
        (error: unknown) => {
          onUnexpectedError(error as Error);
          reply({
            status: 500,
            contentType: 'application/json',
            body: JSON.stringify({ error: 'internal_server_error', reason: String(error) }),
          });
        },
      );
    };
    const declaredLength = Number(headers.get('content-length') ?? '0');
    if (declaredLength > BODY_BYTES_MAX) {
      reply(textReply(413, 'request body too large'));
      return;
    }
    if (declaredLength === 0 && !headers.has('transfer-encoding')) {
      respond(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    res.onData((chunk, isLast) => {
      if (received > BODY_BYTES_MAX) return;
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      received += chunk.byteLength;
      if (received > BODY_BYTES_MAX) {
        reply(textReply(413, 'request body too large'));
        return;
      }
      if (isLast) respond(Buffer.concat(chunks));
    });
  });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (token) => {
      if (token === false) {
        const hint = tls === null ? 'port in use?' : 'port in use, or a bad certificate or key?';
        reject(new Error(`management: cannot listen on ${host}:${port} (${hint})`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(token as unknown as uWS.us_socket),
        close: () => uWS.us_listen_socket_close(token),
      });
    });
  });
}

function send(res: uWS.HttpResponse, state: { isDone: boolean }, reply: HttpReply): void {
  if (state.isDone) return;
  state.isDone = true;
  res.cork(() => {
    res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? 'Unknown'}`);
    res.writeHeader('Content-Type', reply.contentType);
    res.writeHeader('Cache-Control', 'no-cache');
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.writeHeader(name, value);
    // Close after each reply: uWS cannot close idle keep-alive sockets on shutdown, and one
    // would keep the process alive for its 10 s idle timeout after close().
    res.end(reply.body, true);
  });
}
