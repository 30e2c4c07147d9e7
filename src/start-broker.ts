// Starts the whole broker in this process: the AMQP side (src/net) and, unless turned off, the
// management HTTP server (src/mgmt) on the same bind address. The library API and main.ts
// both start the broker here.

import { type HttpEngineName, startManagement } from './mgmt/index.js';
import {
  type BrokerOptions,
  type RunningBroker as AmqpBroker,
  startBroker as startAmqpBroker,
} from './net/index.js';

/** What startBroker() returns. */
export interface RunningBroker extends AmqpBroker {
  /** The management HTTP port bound, or null when management is off. */
  mgmtPort: number | null;
  /** What serves management (uWebSockets.js, or node:http where it has no binary), or null. */
  mgmtEngine: HttpEngineName | null;
}

/**
 * Starts a broker with the given options (the rest default as for `npm start`). Port 0 (and
 * mgmtPort 0) picks a free port. close() stops the management server, then the broker.
 */
export async function startBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const running = await startAmqpBroker(options);
  if (!running.broker.options.isMgmtEnabled)
    return { ...running, mgmtPort: null, mgmtEngine: null };
  let management;
  try {
    management = await startManagement(running.broker, running.port);
  } catch (error) {
    await running.close();
    throw error;
  }
  return {
    ...running,
    mgmtPort: management.port,
    mgmtEngine: management.engine,
    close: async () => {
      management.close();
      await running.close();
    },
  };
}
