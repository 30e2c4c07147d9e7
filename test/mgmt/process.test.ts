// The management server in the `warren` process: the ready line names its port (0 picks a
// free one), and --no-mgmt leaves it out and starts no HTTP server.

import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { spawnBroker, stopBroker } from '../helpers/process-broker.js';

const T = 30_000;

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
});
