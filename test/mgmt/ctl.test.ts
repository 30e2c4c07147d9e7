// `warren ctl` against a running broker's management API, run as the built command: tables
// for people, --json for scripts, changes, and clear errors with exit codes 1 and 2.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, startTestBroker, type TestBroker } from '../helpers/mgmt.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');
const T = 30_000;

interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('warren ctl', () => {
  let broker: TestBroker;

  function ctl(...args: string[]): Promise<CtlResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'ctl', '--url', `http://127.0.0.1:${broker.mgmtPort}`, ...args],
        { env: { ...process.env, WARREN_USER: 'guest', WARREN_PASSWORD: 'guest' } },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1 });
  });

  afterAll(async () => {
    await broker?.close();
  });

  beforeEach(() => {
    expect.hasAssertions();
  });

  it(
    'lists queues as a table and as JSON, purges and deletes one',
    async () => {
      const connection = await amqp.connect(broker.url);
      try {
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue('ctl-q');
        for (let i = 0; i < 3; i++) channel.sendToQueue('ctl-q', Buffer.from('x'));
        await channel.waitForConfirms();
        const table = await ctl('list', 'queues');
        expect(table.code).toBe(0);
        expect(table.stdout.split('\n')[0]).toMatch(/^vhost\s+name\s+durable\s+ready/);
        expect(table.stdout).toMatch(/\/\s+ctl-q\s+true/);
        const json = await ctl('list', 'queues', '--vhost', '/', '--json');
        const queues = JSON.parse(json.stdout) as { name: string }[];
        expect(queues.map((queue) => queue.name)).toContain('ctl-q');

        const purged = await ctl('purge', 'queue', 'ctl-q');
        expect(purged).toMatchObject({ code: 0, stdout: "queue 'ctl-q' in vhost '/' purged\n" });
        expect((await channel.checkQueue('ctl-q')).messageCount).toBe(0);
        const deleted = await ctl('delete', 'queue', 'ctl-q');
        expect(deleted.code).toBe(0);
        expect((await api(broker, 'GET', '/api/queues/%2F/ctl-q')).status).toBe(404);
      } finally {
        await connection.close();
      }
    },
    T,
  );

  it(
    'manages vhosts, users and permissions, and lists them',
    async () => {
      expect((await ctl('add', 'vhost', 'ctl-vhost')).code).toBe(0);
      expect((await ctl('add', 'user', 'dora', 'dora-secret', 'management')).code).toBe(0);
      expect((await ctl('set', 'permissions', 'ctl-vhost', 'dora', '.*', '.*', '.*')).code).toBe(0);
      expect((await ctl('list', 'vhosts')).stdout).toContain('ctl-vhost');
      expect((await ctl('list', 'users')).stdout).toMatch(/dora\s+management/);
      expect((await ctl('list', 'permissions')).stdout).toMatch(/ctl-vhost\s+dora\s+\.\*/);
      expect(
        (await ctl('declare', 'exchange', 'ctl-x', 'fanout', '--vhost', 'ctl-vhost')).code,
      ).toBe(0);
      expect((await ctl('list', 'exchanges', '--vhost', 'ctl-vhost')).stdout).toMatch(
        /ctl-x\s+fanout/,
      );
      expect((await ctl('clear', 'permissions', 'ctl-vhost', 'dora')).code).toBe(0);
      expect((await ctl('delete', 'user', 'dora')).code).toBe(0);
      expect((await ctl('delete', 'vhost', 'ctl-vhost')).code).toBe(0);
      expect((await ctl('list', 'vhosts')).stdout).not.toContain('ctl-vhost');
    },
    T,
  );

  it(
    'exports and imports definitions',
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'warren-ctl-'));
      try {
        const file = join(directory, 'defs.json');
        await api(broker, 'PUT', '/api/queues/%2F/exported-q', { body: { durable: true } });
        expect((await ctl('export', 'definitions', '--file', file)).code).toBe(0);
        const definitions = JSON.parse(readFileSync(file, 'utf8')) as {
          queues: { name: string }[];
        };
        expect(definitions.queues.map((queue) => queue.name)).toContain('exported-q');
        await api(broker, 'DELETE', '/api/queues/%2F/exported-q');
        expect((await ctl('import', 'definitions', file)).code).toBe(0);
        expect((await api(broker, 'GET', '/api/queues/%2F/exported-q')).status).toBe(200);
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    },
    T,
  );

  it(
    'reads and sets the log level at run time',
    async () => {
      expect((await ctl('log-level')).stdout).toBe('silent\n');
      const set = await ctl('set-log-level', 'error');
      expect(set).toMatchObject({ code: 0, stdout: 'log level set to error\n' });
      expect((await ctl('log-level')).stdout).toBe('error\n');
      expect(broker.broker.logLevel).toBe('error');
      const bad = await ctl('set-log-level', 'loud');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('level must be one of debug, info, warn, error, silent');
      expect((await ctl('set-log-level')).code).toBe(2);
      await ctl('set-log-level', 'silent');
    },
    T,
  );

  it(
    'says clearly what went wrong, with exit code 1 for the broker and 2 for usage',
    async () => {
      const refused = await ctl('--password', 'wrong', 'list', 'queues');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("refused for user 'guest': Login failed");
      const missing = await ctl('purge', 'queue', 'nosuch');
      expect(missing).toEqual({
        code: 1,
        stdout: '',
        stderr: "warren ctl: no queue 'nosuch' in vhost '/'\n",
      });
      const missingExchange = await ctl('delete', 'exchange', 'nosuch', '--vhost', 'nowhere');
      expect(missingExchange.stderr).toBe("warren ctl: no exchange 'nosuch' in vhost 'nowhere'\n");
      expect((await ctl('delete', 'user', 'nobody')).stderr).toBe("warren ctl: no user 'nobody'\n");
      const usage = await ctl('list', 'nonsense');
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('usage: warren ctl list queues|');
      const unreachable = await new Promise<CtlResult>((resolve) => {
        execFile(
          process.execPath,
          [CLI, 'ctl', '--url', 'http://127.0.0.1:1', 'list', 'queues'],
          (error, stdout, stderr) =>
            resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
        );
      });
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toContain('cannot reach the management API at http://127.0.0.1:1');
    },
    T,
  );
});
