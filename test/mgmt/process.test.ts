// The management server in the `warren` process: the ready line names its port (0 picks a
// free one), --no-mgmt leaves it out and starts no HTTP server, and --mgmt-tls-cert/-key
// serve it over HTTPS (checked with node:https trusting the test CA).

import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { spawnBroker, stopBroker } from '../helpers/process-broker.js';

const T = 30_000;
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
    '--no-mgmt starts no management server',
    async () => {
      expect.hasAssertions();
      const dataDir = temporaryDataDir();
      const broker = await spawnBroker(dataDir, ['--shards', '1', '--no-mgmt']);
      try {
        expect(broker.mgmtPort).toBeNull();
      } finally {
        await stopBroker(broker, 'SIGTERM');
        rmSync(dataDir, { recursive: true, force: true });
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
