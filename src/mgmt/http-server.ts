// The management HTTP server: one async handler behind one of two engines with the same contract
// (http-contract.ts). uWebSockets.js serves where its package ships a native binary that loads on
// this Node.js; node:http serves everywhere else (Node 22 and 24 today: the package ships ABIs
// 93-115 only). Neither engine's module is loaded until a server starts, so a broker without
// management never loads the native binary. Runs on the broker's event loop (the network thread).

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { HttpEngineName, HttpServer, HttpServerSpec, TlsFiles } from './http-contract.js';
import { startNodeHttpServer } from './node-http-server.js';
import { loadUws, startUwsServer } from './uws-server.js';

export type {
  HttpEngineName,
  HttpReply,
  HttpRequest,
  HttpServer,
  RequestHandler,
  TlsFiles,
} from './http-contract.js';

/**
 * Reads the PEM files and builds a TLS context from them, so that a missing file or a key that
 * does not match the certificate is named here (uWS would only fail to listen).
 */
function checkTlsFiles(tls: TlsFiles): void {
  const pem: Buffer[] = [];
  for (const file of [tls.certFile, tls.keyFile]) {
    try {
      pem.push(readFileSync(file));
    } catch (error) {
      throw new Error(`management: cannot read TLS file ${file}: ${(error as Error).message}`);
    }
  }
  try {
    createSecureContext({ cert: pem[0], key: pem[1] });
  } catch (error) {
    throw new Error(
      `management: TLS files ${tls.certFile} and ${tls.keyFile} are unusable: ${(error as Error).message}`,
    );
  }
}

/**
 * Starts listening on host:port, over HTTPS when `tls` is given, with uWebSockets.js when its
 * binary loads here and node:http otherwise. Resolves once bound; rejects with a ListenError
 * when the port cannot be bound (a taken port is never shared), or when the TLS files are
 * unusable. `engine` forces one implementation (the engines' contract test runs both).
 */
export async function startHttpServer(
  spec: HttpServerSpec,
  engine: HttpEngineName | null = null,
): Promise<HttpServer> {
  if (spec.tls !== null) checkTlsFiles(spec.tls);
  try {
    return await startOn(spec, engine);
  } catch (error) {
    // Every address (::) on a host without IPv6: every IPv4 address, as the AMQP listener does.
    const code = (error as { code?: unknown }).code;
    if (spec.host !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw error;
    return startOn({ ...spec, host: '0.0.0.0' }, engine);
  }
}

function startOn(spec: HttpServerSpec, engine: HttpEngineName | null): Promise<HttpServer> {
  if (engine === 'node:http') return startNodeHttpServer(spec);
  const uws = loadUws();
  if (uws.isLoaded) return startUwsServer(uws.module, spec);
  if (engine === 'uWebSockets.js') throw new Error(`management: ${uws.reason}`);
  return startNodeHttpServer(spec);
}

/** Why uWebSockets.js cannot serve on this Node.js, or null when it can (loads it to know). */
export function uwsUnavailableReason(): string | null {
  const uws = loadUws();
  return uws.isLoaded ? null : uws.reason;
}
