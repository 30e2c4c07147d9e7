// The `warren` process: parse settings, start the broker, print one ready line, and shut down
// cleanly on SIGTERM/SIGINT (clients get 320 CONNECTION_FORCED). Wiring only.

import { parseCommandLine, usage } from './config.js';
import { startBroker } from './index.js';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`warren: ${(error as Error).message}\n\n${usage()}\n`);
    process.exit(2);
  }
  if (parsed.isHelp) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const running = await startBroker(parsed.options);
  const options = running.broker.options;
  const mgmtScheme = options.mgmtTlsCertFile === null ? 'http' : 'https';
  const mgmt =
    running.mgmtPort === null
      ? ''
      : ` mgmt=${mgmtScheme}://${options.bind}:${running.mgmtPort} mgmt-server=${running.mgmtEngine}`;
  const tls = running.tlsPort === null ? '' : ` amqps://${options.bind}:${running.tlsPort}`;
  process.stdout.write(
    `warren ready: amqp://${options.bind}:${running.port}${tls}${mgmt} shards=${options.shardCount} data=${options.dataDir}\n`,
  );
  let isStopping = false;
  const stop = (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    running.broker.log('info', `${signal} received, shutting down`);
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `warren: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
