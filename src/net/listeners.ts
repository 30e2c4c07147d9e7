// The AMQP listeners: plain TCP and, with a certificate, amqps over node:tls. Network thread
// only. Ports are bound before the shards recover, so a taken port fails start-up at once;
// sockets accepted before the broker is ready wait (paused) and are handed over by open().

import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { BrokerOptions } from './options.js';

/** Which setting names the port a listener failed to bind (the CLI names its flag). */
export type ListenerSetting = 'port' | 'tlsPort' | 'mgmtPort';

/**
 * A port that could not be bound: `code` is the errno name (EADDRINUSE, EACCES, ...). Start-up
 * turns it into one line naming the setting's flag.
 */
export class ListenError extends Error {
  readonly code: string;
  readonly setting: ListenerSetting;
  readonly port: number;
  readonly address: string;

  constructor(code: string, setting: ListenerSetting, port: number, address: string) {
    super(`${listenProblem(code)}: ${address}:${port}`);
    this.name = 'ListenError';
    this.code = code;
    this.setting = setting;
    this.port = port;
    this.address = address;
  }
}

function listenProblem(code: string): string {
  if (code === 'EADDRINUSE') return 'address already in use';
  if (code === 'EACCES') return 'permission denied to listen on';
  if (code === 'EADDRNOTAVAIL') return 'address not available on this host';
  return `cannot listen (${code})`;
}

/** Every address, both families: an IPv6 socket that also takes IPv4 (dual-stack). */
export const ALL_ADDRESSES = '::';

/**
 * Binds `server` to port/host; a failure becomes a ListenError naming the setting. On a host
 * without IPv6, `::` (every address) falls back to IPv4's `0.0.0.0`.
 */
export async function listenOn(
  server: Server,
  port: number,
  host: string,
  setting: ListenerSetting,
): Promise<number> {
  try {
    return await listenOnce(server, port, host, setting);
  } catch (error) {
    const code = (error as ListenError).code;
    if (host !== ALL_ADDRESSES || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) {
      throw error;
    }
    return listenOnce(server, port, '0.0.0.0', setting);
  }
}

function listenOnce(
  server: Server,
  port: number,
  host: string,
  setting: ListenerSetting,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(new ListenError(error.code ?? 'EUNKNOWN', setting, port, host));
    server.once('error', onError);
    server.listen({ port, host, ipv6Only: false }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function closeServer(server: Server | null): Promise<void> {
  if (server === null || !server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A reset while waiting for the broker to be ready ends that socket, nothing else. */
function dropEarlySocket(this: Socket): void {
  this.destroy();
}

export class AmqpListeners {
  /** The AMQP port bound (the real one when 0 was asked), or 0 before bind(). */
  port = 0;
  /** The amqps port bound, or null without TLS. */
  tlsPort: number | null = null;
  private server: Server | null = null;
  private tlsServer: Server | null = null;
  private onSocket: ((socket: Socket) => void) | null = null;
  /** Sockets accepted before open(); they wait paused. */
  private readonly early: Socket[] = [];
  private isClosed = false;

  /**
   * Binds the AMQP port and, when a certificate and key are set, the amqps port. Throws a
   * ListenError (the first port that failed; nothing stays bound) or a file error for the TLS
   * files.
   */
  async bind(
    options: BrokerOptions,
    onTlsHandshakeFailed: (error: Error, peer: string) => void,
  ): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    this.port = await listenOn(server, options.port, options.bind, 'port');
    if (options.tlsCertFile === null || options.tlsKeyFile === null) return;
    const tlsServer = createTlsServer(
      {
        cert: readFileSync(options.tlsCertFile),
        key: readFileSync(options.tlsKeyFile),
        ...(options.tlsCaFile !== null ? { ca: readFileSync(options.tlsCaFile) } : {}),
        requestCert: options.isTlsVerifyPeer,
        rejectUnauthorized: options.isTlsVerifyPeer,
      },
      (socket) => this.accept(socket),
    );
    // A failed handshake (bad certificate, plain AMQP on the TLS port) ends that socket only.
    tlsServer.on('tlsClientError', (error, socket) =>
      onTlsHandshakeFailed(error, `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`),
    );
    this.tlsServer = tlsServer;
    try {
      this.tlsPort = await listenOn(tlsServer, options.tlsPort, options.bind, 'tlsPort');
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  }

  /** The broker is ready: sockets go to `onSocket`, the early ones first. */
  open(onSocket: (socket: Socket) => void): void {
    this.onSocket = onSocket;
    for (const socket of this.early.splice(0)) {
      socket.off('error', dropEarlySocket);
      if (socket.destroyed) continue;
      onSocket(socket);
      // After the connection listens for data, so nothing the client sent meanwhile is lost.
      socket.resume();
    }
  }

  /** Stops accepting; connections already handed over are the broker's to close. */
  async close(): Promise<void> {
    this.isClosed = true;
    for (const socket of this.early.splice(0)) socket.destroy();
    await Promise.all([closeServer(this.server), closeServer(this.tlsServer)]);
  }

  private accept(socket: Socket): void {
    if (this.isClosed) {
      socket.destroy();
      return;
    }
    if (this.onSocket === null) {
      // Recovery is still running: the client waits, as it would for a slow accept.
      socket.pause();
      socket.on('error', dropEarlySocket);
      this.early.push(socket);
      return;
    }
    this.onSocket(socket);
  }
}
