// The management HTTP engine on uWebSockets.js. It reads each request whole (url and headers
// before the handler returns, as uWS requires; the body through onData, up to a limit), hands
// it to one async handler, and writes the reply corked, unless the client went away meanwhile.
// The native binary is loaded on first use only, straight from the package's binaries folder:
// where there is none, the package's own entry falls back to a JavaScript imitation of the uWS
// API, under which management did not serve (#19). Runs on the broker's event loop.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type uWSModule from '@trufflesuite/uws-js-unofficial';
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

type Uws = typeof uWSModule;

const PACKAGE = '@trufflesuite/uws-js-unofficial';

/** uWS's listen option that leaves SO_REUSEPORT off, so a taken port fails instead of sharing. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

export type UwsLoad = { isLoaded: true; module: Uws } | { isLoaded: false; reason: string };

let loaded: UwsLoad | null = null;

/** Loads the binary for this platform and Node ABI once; says why not when there is none. */
export function loadUws(): UwsLoad {
  if (loaded !== null) return loaded;
  const require = createRequire(import.meta.url);
  const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const where = `Node.js ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`;
  try {
    const binary = join(dirname(require.resolve(`${PACKAGE}/package.json`)), 'binaries', name);
    loaded = existsSync(binary)
      ? { isLoaded: true, module: require(binary) as Uws }
      : { isLoaded: false, reason: `${PACKAGE} has no binary for ${where}` };
  } catch (error) {
    const firstLine = (error as Error).message.split('\n')[0] ?? '';
    loaded = { isLoaded: false, reason: `${PACKAGE} does not load on ${where}: ${firstLine}` };
  }
  return loaded;
}

/**
 * The errno a plain bind of host:port gets now (EADDRINUSE...), or null when it binds: uWS
 * only says that listening failed, not why.
 */
function probeBindErrno(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'EUNKNOWN'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

export function startUwsServer(uWS: Uws, spec: HttpServerSpec): Promise<HttpServer> {
  const { tls } = spec;
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
      spec
        .handle({ method, segments, query, headers, remoteAddress, body })
        .then(reply, (error: unknown) => reply(failedReply(error, spec)));
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
    // The four-argument listen (host, port, options, callback) is in the binary, not the types.
    const listen = app.listen as unknown as (
      host: string,
      port: number,
      options: number,
      callback: (token: uWSModule.us_listen_socket | false) => void,
    ) => void;
    listen.call(app, spec.host, spec.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
      if (token !== false) {
        let isOpen = true;
        resolve({
          port: uWS.us_socket_local_port(token as unknown as uWSModule.us_socket),
          engine: 'uWebSockets.js',
          // Idempotent: closing a closed listen socket again crashes the process.
          close: () => {
            if (isOpen) uWS.us_listen_socket_close(token);
            isOpen = false;
          },
        });
        return;
      }
      void probeBindErrno(spec.host, spec.port).then((code) => {
        if (code !== null) {
          reject(listenError(code, spec.host, spec.port));
          return;
        }
        const hint = tls === null ? '' : ' (a bad certificate or key?)';
        reject(new Error(`management: cannot listen on ${spec.host}:${spec.port}${hint}`));
      });
    });
  });
}

function send(res: uWSModule.HttpResponse, state: { isDone: boolean }, reply: HttpReply): void {
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
