// The management server in the `warren` process: the ready line names its port (0 picks a
// free one) and what serves it, --no-mgmt leaves it out and never loads the native
// uWebSockets.js module, a taken management port stops start-up, and --mgmt-tls-cert/-key
// serve it over HTTPS (checked with node:https trusting the test CA).

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { spawnBroker, stopBroker } from '../helpers/process-broker.js';

const T = 30_000;
const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** Whether the process has a uWebSockets.js binary mapped (Linux: /proc/<pid>/maps). */
function hasUwsBinaryMapped(pid: number): boolean {
  return /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

/** Starts a broker expected to fail; resolves with what it wrote to stderr and its exit code. */
async function failedStart(dataDir: string, args: string[]): Promise<string> {
  let stderr = '';
  const failure = await spawnBroker(dataDir, args, (text) => (stderr += text)).then(
    async (broker) => {
      await stopBroker(broker);
      return new Error(`broker started: ${JSON.stringify(broker.mgmtUrl)}`);
    },
    (error: unknown) => error as Error,
  );
  expect(failure.message).toMatch(/^broker exited with [1-9]\d* before it was ready$/);
  return stderr;
}

const TLS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');

/** GET over HTTPS trusting only the test CA; resolves with the status and body. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    const outgoing = request(url, { ca, headers: { Authorization: authorization } }, (reply) => {
      let body = '';
      reply.setEncoding('utf8');
      reply.on('data', (chunk: string) => (body += chunk));
      reply.on('end', () => resolve({ status: reply.statusCode ?? 0, body }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('warren process with management', () => {
  it(
    'prints mgmt=http://host:port in the ready line and serves the API there',
    async () => {
      expect.hasAssertions();
      const dataDir = temporaryDataDir();
      const broker = await spawnBroker(dataDir, ['--shards', '1']);
      try {
        expect(broker.mgmtPort).not.toBeNull();
        const response = await fetch(`http://127.0.0.1:${broker.mgmtPort}/api/overview`, {
          headers: { Authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
        });
        expect(response.status).toBe(200);
        const overview = (await response.json()) as { listeners: { port: number }[] };
        expect(overview.listeners.map((listener) => listener.port)).toEqual([
          broker.port,
          broker.mgmtPort,
        ]);
        // uWebSockets.js where its binary loads on this Node.js, node:http elsewhere.
        expect(['uWebSockets.js', 'node:http']).toContain(broker.mgmtServer);
        if (existsSync(`/proc/${broker.child.pid}/maps`)) {
          expect(hasUwsBinaryMapped(broker.child.pid!)).toBe(
            broker.mgmtServer === 'uWebSockets.js',
          );
        }
        const page = await fetch(`http://127.0.0.1:${broker.mgmtPort}/`);
        expect(page.headers.get('content-type')).toContain('text/html');
        expect(await page.text()).toContain('Warren Management');
      } finally {
        await stopBroker(broker, 'SIGTERM');
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    '--no-mgmt starts no management server and never loads the native uWebSockets.js module',
    async () => {
      expect.hasAssertions();
      const dataDir = temporaryDataDir();
      const broker = await spawnBroker(dataDir, ['--shards', '1', '--no-mgmt']);
      try {
        expect(broker.mgmtPort).toBeNull();
        expect(broker.mgmtServer).toBeNull();
        if (existsSync(`/proc/${broker.child.pid}/maps`)) {
          expect(hasUwsBinaryMapped(broker.child.pid!)).toBe(false);
        }
      } finally {
        await stopBroker(broker, 'SIGTERM');
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    'a second broker on a taken management port exits naming the port; the first keeps serving',
    async () => {
      expect.hasAssertions();
      const firstDir = temporaryDataDir();
      const secondDir = temporaryDataDir();
      const first = await spawnBroker(firstDir, ['--shards', '1']);
      try {
        const stderr = await failedStart(secondDir, [
          '--shards',
          '1',
          '--mgmt-port',
          String(first.mgmtPort),
        ]);
        expect(stderr).toBe(
          `warren: --mgmt-port ${first.mgmtPort}: address 127.0.0.1:${first.mgmtPort} is already in use\n`,
        );
        // Every request reaches the first broker: its own AMQP port in each answer.
        for (let attempt = 0; attempt < 6; attempt++) {
          const response = await fetch(`${first.mgmtUrl}/api/overview`, {
            headers: { Authorization: GUEST },
          });
          const overview = (await response.json()) as { listeners: { port: number }[] };
          expect(overview.listeners[0]?.port).toBe(first.port);
        }
      } finally {
        await stopBroker(first, 'SIGTERM');
        rmSync(firstDir, { recursive: true, force: true });
        rmSync(secondDir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    'a second broker on a taken AMQP port exits, and the first keeps serving',
    async () => {
      expect.hasAssertions();
      const firstDir = temporaryDataDir();
      const secondDir = temporaryDataDir();
      const first = await spawnBroker(firstDir, ['--shards', '1', '--no-mgmt']);
      try {
        const stderr = await failedStart(secondDir, [
          '--shards',
          '1',
          '--no-mgmt',
          '--port',
          String(first.port),
        ]);
        expect(stderr).toBe(
          `warren: --port ${first.port}: address 127.0.0.1:${first.port} is already in use\n`,
        );
        const connection = await amqplib.connect(first.url);
        await connection.close();
      } finally {
        await stopBroker(first, 'SIGTERM');
        rmSync(firstDir, { recursive: true, force: true });
        rmSync(secondDir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    'a second broker on a taken AMQPS port exits',
    async () => {
      expect.hasAssertions();
      const firstDir = temporaryDataDir();
      const secondDir = temporaryDataDir();
      const tlsArgs = [
        '--tls-cert',
        join(TLS_DIR, 'server.pem'),
        '--tls-key',
        join(TLS_DIR, 'server.key'),
      ];
      const first = await spawnBroker(firstDir, [
        '--shards',
        '1',
        '--no-mgmt',
        ...tlsArgs,
        '--tls-port',
        '0',
      ]);
      try {
        expect(first.tlsPort).not.toBeNull();
        const stderr = await failedStart(secondDir, [
          '--shards',
          '1',
          '--no-mgmt',
          ...tlsArgs,
          '--tls-port',
          String(first.tlsPort),
        ]);
        expect(stderr).toBe(
          `warren: --tls-port ${first.tlsPort}: address 127.0.0.1:${first.tlsPort} is already in use\n`,
        );
      } finally {
        await stopBroker(first, 'SIGTERM');
        rmSync(firstDir, { recursive: true, force: true });
        rmSync(secondDir, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    '--mgmt-tls-cert and --mgmt-tls-key serve the API over HTTPS and print https:// in the ready line',
    async () => {
      expect.hasAssertions();
      const dataDir = temporaryDataDir();
      const broker = await spawnBroker(dataDir, [
        '--shards',
        '1',
        '--mgmt-tls-cert',
        join(TLS_DIR, 'server.pem'),
        '--mgmt-tls-key',
        join(TLS_DIR, 'server.key'),
      ]);
      try {
        expect(broker.mgmtUrl).toBe(`https://127.0.0.1:${broker.mgmtPort}`);
        const ca = readFileSync(join(TLS_DIR, 'ca.pem'));
        const overview = await httpsGet(`${broker.mgmtUrl}/api/overview`, ca);
        expect(overview.status).toBe(200);
        const listeners = (JSON.parse(overview.body) as { listeners: { protocol: string }[] })
          .listeners;
        expect(listeners.map((listener) => listener.protocol)).toEqual(['amqp', 'https']);
        // Without the CA the self-signed chain is refused; plain HTTP gets no answer.
        await expect(httpsGet(`${broker.mgmtUrl}/api/overview`, Buffer.alloc(0))).rejects.toThrow();
        await expect(
          fetch(`http://127.0.0.1:${broker.mgmtPort}/api/overview`, {
            signal: AbortSignal.timeout(3000),
          }),
        ).rejects.toThrow();
      } finally {
        await stopBroker(broker, 'SIGTERM');
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    T,
  );
});
