// Runs the broker as its own process (dist/main.js), as `npm start` does, for tests where the
// client must not share the broker's thread (timing-sensitive paths, kill -9).

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/main.js');

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  /** The management HTTP port from the ready line, null when management is off. */
  mgmtPort: number | null;
  /** The management server's base URL from the ready line (http or https), null when off. */
  mgmtUrl: string | null;
  /** What serves management, from the ready line's mgmt-server= (null when off). */
  mgmtServer: string | null;
  /** The AMQPS port from the ready line, null when TLS is off. */
  tlsPort: number | null;
  url: string;
}

/**
 * Starts the broker on an ephemeral loopback port and resolves once it prints its ready line.
 * With `onStderr` its log goes there instead of the test's stderr.
 */
export function spawnBroker(
  dataDir: string,
  extraArgs: string[] = [],
  onStderr: ((text: string) => void) | null = null,
): Promise<BrokerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--port',
        '0',
        '--mgmt-port',
        '0',
        '--bind',
        '127.0.0.1',
        '--data-dir',
        dataDir,
        '--log-level',
        'error',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', onStderr === null ? 'inherit' : 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => onStderr?.(chunk.toString()));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // The whole ready line, so both of its ports are in it.
      if (!output.includes('\n')) return;
      const match = /amqp:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+)/.exec(output);
      if (match !== null) {
        const port = Number(match[1]);
        const mgmt = /mgmt=(https?:\/\/[^:]+:(\d+))/.exec(output);
        const mgmtPort = mgmt === null ? null : Number(mgmt[2]);
        const mgmtUrl = mgmt === null ? null : mgmt[1]!;
        const mgmtServer = /mgmt-server=(\S+)/.exec(output)?.[1] ?? null;
        const tls = /amqps:\/\/[^:]+:(\d+)/.exec(output);
        const tlsPort = tls === null ? null : Number(tls[1]);
        const url = `amqp://guest:guest@127.0.0.1:${port}`;
        resolve({ child, port, mgmtPort, mgmtUrl, mgmtServer, tlsPort, url });
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`broker exited with ${code} before it was ready`)),
    );
  });
}

/** Ends the process with a signal and waits for it (no-op if it already ended). */
export function stopBroker(
  broker: BrokerProcess,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (broker.child.exitCode !== null || broker.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    broker.child.once('exit', () => resolve());
    broker.child.kill(signal);
  });
}
