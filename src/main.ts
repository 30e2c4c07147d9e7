// The `warren` process: parse settings, start the broker, print one ready line, and shut down
// cleanly on SIGTERM/SIGINT (clients get 320 CONNECTION_FORCED). Wiring only. Anything that
// stops it before the ready line is one line on stderr (src/startup-error.ts), with a stack
// trace only at --log-level debug.

import { type ParsedCommandLine, parseCommandLine, usage } from './config.js';
import { startCommandLineBroker } from './start-broker.js';
import { explainStartupError } from './startup-error.js';

async function main(): Promise<void> {
  let parsed: ParsedCommandLine | null = null;
  let running;
  try {
    parsed = parseCommandLine(process.argv.slice(2), process.env);
    if (parsed.isHelp) {
      process.stdout.write(`${usage()}\n`);
      return;
    }
    running = await startCommandLineBroker(parsed.options);
  } catch (error) {
    const failure = explainStartupError(error, parsed);
    process.stderr.write(`${failure.line}\n`);
    if (isDebug(parsed) && error instanceof Error && error.stack !== undefined) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exit(failure.exitCode);
  }
  const options = running.broker.options;
  // An IPv6 address goes in brackets in a URL.
  const host = options.bind.includes(':') ? `[${options.bind}]` : options.bind;
  const mgmtScheme = options.mgmtTlsCertFile === null ? 'http' : 'https';
  const mgmt =
    running.mgmtPort === null
      ? ''
      : ` mgmt=${mgmtScheme}://${host}:${running.mgmtPort} mgmt-server=${running.mgmtEngine}`;
  const tls = running.tlsPort === null ? '' : ` amqps://${host}:${running.tlsPort}`;
  process.stdout.write(
    `warren ready: amqp://${host}:${running.port}${tls}${mgmt} shards=${options.shardCount} data=${options.dataDir}\n`,
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

/** Whether --log-level debug was asked for, even when the command line did not parse. */
function isDebug(parsed: ParsedCommandLine | null): boolean {
  if (parsed !== null) return parsed.options.logLevel === 'debug';
  const argv = process.argv.slice(2).join(' ');
  return /--log-level[= ]debug\b/.test(argv) || process.env['WARREN_LOG_LEVEL'] === 'debug';
}

main().catch((error: unknown) => {
  process.stderr.write(
    `warren: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
