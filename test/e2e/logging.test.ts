// The broker's logs as an operator reads them, from a broker process's stderr: readable lines by
// default and JSON lines with --log-format json; connections opened (peer, user, vhost) and
// closed with their reason; failed logins without the password; the level changed at run time
// through PUT /api/warren/log-level (administrators only).

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/broker.js';
import { pollUntil } from '../helpers/poll.js';
import { type BrokerProcess, spawnBroker, stopBroker } from '../helpers/process-broker.js';

const SECRET = 'Pa55-word-that-must-never-be-logged';

interface LoggedBroker {
  process: BrokerProcess;
  output: () => string;
  dataDir: string;
}

async function startLogged(args: string[]): Promise<LoggedBroker> {
  const dataDir = temporaryDataDir();
  let text = '';
  const process = await spawnBroker(dataDir, ['--shards', '2', ...args], (chunk) => {
    text += chunk;
  });
  return { process, output: () => text, dataDir };
}

async function api(
  broker: LoggedBroker,
  method: string,
  path: string,
  body?: unknown,
  credentials = 'guest:guest',
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${broker.process.mgmtPort}/api${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
      'Content-Type': 'application/json',
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

async function refusedLogin(port: number, user: string, password: string): Promise<void> {
  await expect(amqp.connect(`amqp://${user}:${password}@127.0.0.1:${port}`)).rejects.toThrow(
    /ACCESS_REFUSED|403/,
  );
}

describe('logs', () => {
  let broker: LoggedBroker | null = null;
  afterEach(async () => {
    if (broker === null) return;
    await stopBroker(broker.process, 'SIGTERM');
    rmSync(broker.dataDir, { recursive: true, force: true });
    broker = null;
  });

  it(
    'writes readable lines: recovery, connections opened and closed with reasons, failed logins without the password',
    { timeout: 30_000 },
    async () => {
      expect.hasAssertions();
      broker = await startLogged(['--log-level', 'info']);
      const logged = broker;
      expect(logged.output()).toMatch(
        /^\S+Z info {2}shard log recovered shard=0 messages=0 segments=\d+ records=\d+ bytes=\d+ tornBytes=0 ms=\d+$/m,
      );
      expect(logged.output()).toMatch(/ info {2}recovery done shards=2 messages=0 /);

      // Debug from here on: nothing at any level may carry a password.
      expect(await api(logged, 'PUT', '/warren/log-level', { level: 'debug' })).toEqual({
        status: 204,
        body: null,
      });
      expect((await api(logged, 'GET', '/warren/log-level')).body).toEqual({ level: 'debug' });
      expect(
        (await api(logged, 'PUT', '/users/logger', { password: SECRET, tags: 'management' }))
          .status,
      ).toBe(201);
      await api(logged, 'PUT', '/permissions/%2F/logger', {
        configure: '.*',
        write: '.*',
        read: '.*',
      });

      const connection = await amqp.connect(
        `amqp://logger:${encodeURIComponent(SECRET)}@127.0.0.1:${logged.process.port}`,
      );
      const opened =
        /info {2}connection opened connection="(127\.0\.0\.1:\d+) -> [^"]+" user=logger vhost=\/ client=/;
      expect(await pollUntil(() => opened.test(logged.output()))).toBe(true);
      await connection.close();
      expect(
        await pollUntil(() =>
          /info {2}connection closed connection="127\.0\.0\.1:\d+ -> [^"]+" user=logger vhost=\/ reason="client closed" replyCode=200/.test(
            logged.output(),
          ),
        ),
      ).toBe(true);

      // Closed by the server: the reply code and text.
      const forced = await amqp.connect(logged.process.url);
      forced.on('error', () => {});
      const closed = new Promise((resolve) => forced.once('close', resolve));
      const names = (await api(logged, 'GET', '/connections')).body as { name: string }[];
      expect(names).toHaveLength(1);
      await api(logged, 'DELETE', `/connections/${encodeURIComponent(names[0]!.name)}`);
      await closed;
      expect(
        await pollUntil(() =>
          /connection closed .* user=guest vhost=\/ reason="server closed" replyCode=320 replyText="CONNECTION_FORCED - /.test(
            logged.output(),
          ),
        ),
      ).toBe(true);

      // A wrong password: refused and logged with the user and reason, never the password.
      await refusedLogin(logged.process.port, 'logger', `${SECRET}-wrong`);
      expect(
        await pollUntil(() =>
          /warn {2}login refused connection="[^"]+" mechanism=PLAIN reason="user 'logger' - invalid credentials"/.test(
            logged.output(),
          ),
        ),
      ).toBe(true);

      // Non-administrators may neither read nor change the level; nonsense is refused.
      expect(
        (await api(logged, 'GET', '/warren/log-level', undefined, `logger:${SECRET}`)).status,
      ).toBe(401);
      expect(
        (await api(logged, 'PUT', '/warren/log-level', { level: 'error' }, `logger:${SECRET}`))
          .status,
      ).toBe(401);
      expect((await api(logged, 'PUT', '/warren/log-level', { level: 'loud' })).status).toBe(400);
      expect(logged.output()).not.toContain(SECRET);
      expect(logged.output()).not.toContain(encodeURIComponent(SECRET));
    },
  );

  it(
    'writes JSON lines with --log-format json, and drops lines below the level',
    { timeout: 30_000 },
    async () => {
      expect.hasAssertions();
      broker = await startLogged(['--log-level', 'warn', '--log-format', 'json']);
      const logged = broker;
      const connection = await amqp.connect(logged.process.url);
      await connection.close();
      await refusedLogin(logged.process.port, 'guest', SECRET);
      expect(await pollUntil(() => logged.output().includes('login refused'))).toBe(true);
      // At warn, connections opening and closing are not logged.
      await api(logged, 'PUT', '/warren/log-level', { level: 'info' });
      const second = await amqp.connect(logged.process.url);
      await second.close();
      expect(await pollUntil(() => logged.output().includes('"connection closed"'))).toBe(true);
      const entries = logged
        .output()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const entry of entries) {
        expect(entry).toMatchObject({ level: expect.any(String), time: expect.any(String) });
        expect(entry['pid']).toBe(logged.process.child.pid);
      }
      const messages = entries.map((entry) => entry['msg']);
      expect(messages).not.toContain('shard log recovered');
      expect(messages.filter((message) => message === 'connection opened')).toHaveLength(1);
      expect(entries.find((entry) => entry['msg'] === 'login refused')).toMatchObject({
        level: 'warn',
        mechanism: 'PLAIN',
        reason: "user 'guest' - invalid credentials",
      });
      expect(entries.find((entry) => entry['msg'] === 'connection opened')).toMatchObject({
        user: 'guest',
        vhost: '/',
        connection: expect.stringMatching(/^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/),
      });
      expect(logged.output()).not.toContain(SECRET);
    },
  );
});
