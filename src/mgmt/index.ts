// The management server's public surface: startManagement() runs the HTTP API, the web UI and
// /metrics for a running broker on its event loop. Only the process wiring imports this.

import type { Broker } from '../net/index.js';
import { ApiRouter, errorReply } from './api-router.js';
import { HttpError } from './http-errors.js';
import {
  type HttpEngineName,
  type HttpReply,
  type HttpRequest,
  startHttpServer,
  uwsUnavailableReason,
} from './http-server.js';
import { renderMetrics } from './metrics.js';
import { StaticFiles } from './static-files.js';
import { StatsSampler } from './stats-sampler.js';

export type { HttpEngineName } from './http-server.js';

export interface ManagementServer {
  /** The HTTP port bound (useful with mgmtPort 0). */
  readonly port: number;
  /** What serves it: uWebSockets.js where its binary loads on this Node.js, else node:http. */
  readonly engine: HttpEngineName;
  /** Stops listening. */
  close(): void;
}

/**
 * Starts the management HTTP server on the broker's bind address and `mgmtPort`. Rejects with
 * an Error whose `code` is the errno (EADDRINUSE...) and `setting` is 'mgmtPort' when the port
 * cannot be bound; a taken port is never shared.
 */
export async function startManagement(broker: Broker, amqpPort: number): Promise<ManagementServer> {
  const sampler = new StatsSampler(broker);
  const staticFiles = new StaticFiles();
  const ports = { amqp: amqpPort, http: 0 };
  const api = new ApiRouter(broker, sampler, ports);
  const handle = async (request: HttpRequest): Promise<HttpReply> => {
    const [first] = request.segments;
    if (first === 'api') return api.handle(request);
    if (first === 'metrics' && request.segments.length === 1 && request.method === 'GET') {
      return {
        status: 200,
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        body: await renderMetrics(broker, sampler),
      };
    }
    const file = request.method === 'GET' ? staticFiles.reply(request.segments) : null;
    return file ?? errorReply(new HttpError(404, 'Object Not Found', 'Not Found'));
  };
  const { mgmtTlsCertFile, mgmtTlsKeyFile } = broker.options;
  const tls =
    mgmtTlsCertFile !== null && mgmtTlsKeyFile !== null
      ? { certFile: mgmtTlsCertFile, keyFile: mgmtTlsKeyFile }
      : null;
  const server = await startHttpServer({
    host: broker.options.bind,
    port: broker.options.mgmtPort,
    tls,
    handle,
    onUnexpectedError: (error) => broker.log('error', 'management request failed', { err: error }),
  });
  ports.http = server.port;
  if (server.engine === 'node:http') {
    broker.log('info', 'management served by node:http', { reason: uwsUnavailableReason() });
  }
  sampler.start();
  return {
    port: server.port,
    engine: server.engine,
    close: () => {
      sampler.stop();
      server.close();
    },
  };
}
