// Starts the whole broker in this process: the AMQP side (src/net) and, unless turned off, the
// management HTTP server (src/mgmt) on the same bind address. The library API and main.ts
// both start the broker here.

import { startManagement } from './mgmt/index.js';
import { Broker, type BrokerOptions, resolveOptions } from './net/index.js';

/** What startBroker() returns. */
export interface RunningBroker {
  /** The AMQP port actually bound (useful with port 0). */
  port: number;
  /** The amqps port bound, or null when no certificate is configured. */
  tlsPort: number | null;
  /** The management HTTP port bound, or null when management is off. */
  mgmtPort: number | null;
  /** The broker itself, for in-process inspection. */
  broker: Broker;
  /**
   * Stops the management server, closes connections with 320 CONNECTION_FORCED, stops the
   * shards and releases the ports.
   */
  close(): Promise<void>;
}

/**
 * Starts a broker with the given options (the rest default as for `npm start`). Port 0 (and
 * mgmtPort 0) picks a free port.
 */
export async function startBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const broker = new Broker(resolveOptions(options));
  const port = await broker.start();
  const running = { port, tlsPort: broker.tlsPort, broker };
  if (!broker.options.isMgmtEnabled) {
    return { ...running, mgmtPort: null, close: () => broker.stop() };
  }
  let management;
  try {
    management = await startManagement(broker, port);
  } catch (error) {
    await broker.stop();
    throw error;
  }
  return {
    ...running,
    mgmtPort: management.port,
    close: async () => {
      management.close();
      await broker.stop();
    },
  };
}
