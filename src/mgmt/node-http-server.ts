// The management HTTP engine on node:http (node:https with TLS), for Node.js versions that
// uWebSockets.js has no binary for. Same contract as uws-server.ts: each request read whole
// (body up to a limit), one async handler, the reply written unless the client went away.
// Keep-alive connections are closed with the server. Runs on the broker's event loop.

import { readFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  BODY_BYTES_MAX,
  type HttpReply,
  type HttpServer,
  type HttpServerSpec,
  STATUS_TEXT,
  decodeSegments,
  failedReply,
  listenError,
  textReply,
} from './http-contract.js';

function send(response: ServerResponse, reply: HttpReply): void {
  if (response.writableEnded || response.destroyed) return;
  response.statusCode = reply.status;
  response.statusMessage = STATUS_TEXT[reply.status] ?? 'Unknown';
  response.setHeader('Content-Type', reply.contentType);
  response.setHeader('Cache-Control', 'no-cache');
  for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
  response.end(reply.body);
}

/** Replies 413 and drops the connection: the rest of an oversized body is not read. */
function refuseTooLarge(request: IncomingMessage, response: ServerResponse): void {
  response.setHeader('Connection', 'close');
  send(response, textReply(413, 'request body too large'));
  response.once('finish', () => request.socket.destroy());
}

function serve(spec: HttpServerSpec, request: IncomingMessage, response: ServerResponse): void {
  const method = (request.method ?? 'GET').toUpperCase();
  const target = request.url ?? '/';
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const remoteAddress = request.socket.remoteAddress ?? '';
  const segments = decodeSegments(path);
  if (segments === null) {
    send(response, textReply(400, 'bad percent-encoding in path'));
    request.resume();
    return;
  }
  const respond = (body: Buffer) => {
    spec.handle({ method, segments, query, headers, remoteAddress, body }).then(
      (reply) => send(response, reply),
      (error: unknown) => send(response, failedReply(error, spec)),
    );
  };
  if (Number(headers.get('content-length') ?? '0') > BODY_BYTES_MAX) {
    refuseTooLarge(request, response);
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received > BODY_BYTES_MAX) {
      request.pause();
      refuseTooLarge(request, response);
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    if (received <= BODY_BYTES_MAX) respond(Buffer.concat(chunks));
  });
}

export function startNodeHttpServer(spec: HttpServerSpec): Promise<HttpServer> {
  const listener = (request: IncomingMessage, response: ServerResponse) =>
    serve(spec, request, response);
  const server: Server =
    spec.tls === null
      ? createServer(listener)
      : createTlsServer(
          { cert: readFileSync(spec.tls.certFile), key: readFileSync(spec.tls.keyFile) },
          listener,
        );
  return new Promise((resolve, reject) => {
    const onListenError = (error: NodeJS.ErrnoException) =>
      reject(listenError(error.code ?? 'EUNKNOWN', spec.host, spec.port));
    server.once('error', onListenError);
    // exclusive: never share the port, even where this process is a cluster worker.
    server.listen({ host: spec.host, port: spec.port, exclusive: true }, () => {
      server.off('error', onListenError);
      server.on('error', (error) => spec.onUnexpectedError(error));
      resolve({
        port: (server.address() as AddressInfo).port,
        engine: 'node:http',
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}
