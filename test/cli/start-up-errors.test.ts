// The `warren` process refusing to start: each mistake is one line on stderr naming the setting
// as the user gave it (flag, environment variable, config file key), exit code 2 for a setting
// that cannot work and 1 for the machine around it, a stack trace only at --log-level debug.
// Runs the built dist/main.js in a scratch directory.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/main.js');
const T = 30_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'warren-start-errors-'));

/** The environment without any WARREN_* setting of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('WARREN_')) env[name] = value;
  }
  return { ...env, ...extra };
}

function warren(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: scratch, env: cleanEnv(env), timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Options that keep a broker that does start off the machine's real ports and ./data. */
const SAFE = ['--bind', '127.0.0.1', '--mgmt-port', '0', '--shards', '1'];

function listening(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : 0 });
    });
  });
}

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('warren start-up errors', () => {
  beforeEach(() => {
    expect.hasAssertions();
  });

  it.each([
    [['--shards', '0'], {}, 'warren: --shards: expected an integer from 1 to 30, got 0'],
    [['--port', '70000'], {}, 'warren: --port: expected an integer from 0 to 65535, got 70000'],
    [[], { WARREN_SHARDS: '0' }, 'warren: WARREN_SHARDS: expected an integer from 1 to 30, got 0'],
    [
      ['--fsync', 'sometimes'],
      {},
      "warren: --fsync: expected batch, interval or off, got 'sometimes'",
    ],
    [['--prot', '1'], {}, 'warren: unknown option --prot (warren --help lists the options)'],
    [['--ring-bytes', '100000'], {}, 'warren: --ring-bytes: expected a power of two, got 100000'],
    [['--tls-key', 'k.pem'], {}, 'warren: --tls-key: needs --tls-cert too (give both or neither)'],
  ] as const)(
    'a bad setting %j %j is one line and exit 2',
    async (args, env, line) => {
      const outcome = await warren([...args], env);
      expect(outcome).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
    },
    T,
  );

  it(
    'names the config file key',
    async () => {
      const config = join(scratch, 'warren.json');
      writeFileSync(config, JSON.stringify({ shards: 0 }));
      const outcome = await warren(['--config', config]);
      expect(outcome).toEqual({
        code: 2,
        stdout: '',
        stderr: `warren: ${config}: shards: expected an integer from 1 to 30, got 0\n`,
      });
    },
    T,
  );

  it(
    'a data directory that is a file is one line naming --data-dir, exit 1, before any shard starts',
    async () => {
      const file = join(scratch, 'not-a-dir');
      writeFileSync(file, '');
      const outcome = await warren(['--data-dir', file, '--port', '0', ...SAFE]);
      expect(outcome).toEqual({
        code: 1,
        stdout: '',
        stderr: `warren: --data-dir ${file}: is a file, not a directory\n`,
      });
      const nested = await warren([...SAFE, '--port', '0'], { WARREN_DATA_DIR: `${file}/data` });
      expect(nested).toEqual({
        code: 1,
        stdout: '',
        stderr: `warren: WARREN_DATA_DIR=${file}/data: ${file} is a file, not a directory\n`,
      });
    },
    T,
  );

  it(
    'a missing certificate is one line naming its flag, exit 1',
    async () => {
      const dataDir = join(scratch, 'tls-data');
      const outcome = await warren([
        ...SAFE,
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--tls-cert',
        'missing-cert.pem',
        '--tls-key',
        'missing-key.pem',
      ]);
      expect(outcome).toEqual({
        code: 1,
        stdout: '',
        stderr: 'warren: --tls-cert missing-cert.pem: no such file\n',
      });
      expect(existsSync(join(dataDir, 'shards'))).toBe(false);
    },
    T,
  );

  it(
    'prints the stack trace after the line at --log-level debug',
    async () => {
      const file = join(scratch, 'also-not-a-dir');
      writeFileSync(file, '');
      const outcome = await warren([...SAFE, '--data-dir', file, '--log-level', 'debug']);
      expect(outcome.code).toBe(1);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe(`warren: --data-dir ${file}: is a file, not a directory`);
      expect(lines[1]).toMatch(/^BrokerStartError: /);
      expect(lines.slice(2).every((line) => line.startsWith('    at '))).toBe(true);
    },
    T,
  );

  it(
    'the AMQP port in use is one line naming --port, exit 1',
    async () => {
      const { server, port } = await listening();
      try {
        const dataDir = join(scratch, 'port-data');
        mkdirSync(dataDir);
        const outcome = await warren([
          ...SAFE,
          '--data-dir',
          dataDir,
          '--port',
          String(port),
          '--log-level',
          'warn',
        ]);
        expect(outcome).toEqual({
          code: 1,
          stdout: '',
          stderr: `warren: --port ${port}: address 127.0.0.1:${port} is already in use\n`,
        });
        const fromEnv = await warren([...SAFE, '--data-dir', dataDir, '--log-level', 'warn'], {
          WARREN_PORT: String(port),
        });
        expect(fromEnv.stderr).toBe(
          `warren: WARREN_PORT=${port}: address 127.0.0.1:${port} is already in use\n`,
        );
      } finally {
        server.close();
      }
    },
    T,
  );

  // The listeners bind before the shards recover, so a taken port costs no recovery.
  it(
    'the AMQP port in use fails before any shard recovers',
    async () => {
      const { server, port } = await listening();
      try {
        const dataDir = join(scratch, 'early-port-data');
        const outcome = await warren([...SAFE, '--data-dir', dataDir, '--port', String(port)]);
        expect(outcome.stderr).toBe(
          `warren: --port ${port}: address 127.0.0.1:${port} is already in use\n`,
        );
        expect(existsSync(join(dataDir, 'shards'))).toBe(false);
      } finally {
        server.close();
      }
    },
    T,
  );

  it(
    '--help prints the settings and exits 0',
    async () => {
      const outcome = await warren(['--help']);
      expect(outcome.code).toBe(0);
      expect(outcome.stdout).toMatch(/^Usage: warren \[options\]/);
      expect(outcome.stdout).toContain('--shards');
    },
    T,
  );
});
