// The management API's authentication and authorisation, with a real HTTP client against an
// in-process broker: 401 with RabbitMQ's JSON bodies, management tags, vhost-scoped visibility
// for non-administrators, and the port the broker reports.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../dist/index.js';
import { temporaryDataDir } from '../helpers/broker.js';
import { api, startTestBroker, type TestBroker, vhostPath } from '../helpers/mgmt.js';

const T = 20_000;

describe('management API: authentication and visibility', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 1 });
    await api(broker, 'PUT', '/api/vhosts/other');
    await api(broker, 'PUT', '/api/users/monty', {
      body: { password: 'monty-secret', tags: 'monitoring' },
    });
    await api(broker, 'PUT', '/api/users/mandy', {
      body: { password: 'mandy-secret', tags: ['management'] },
    });
    await api(broker, 'PUT', '/api/users/plain', { body: { password: 'plain-secret', tags: '' } });
    await api(broker, 'PUT', '/api/permissions/other/mandy', {
      body: { configure: '.*', write: '.*', read: '.*' },
    });
  });

  afterAll(async () => {
    await broker?.close();
  });

  beforeEach(() => {
    expect.hasAssertions();
  });

  it(
    'startBroker reports the management port it bound',
    () => {
      expect(broker.mgmtPort).toBeGreaterThan(0);
      expect(broker.mgmtPort).not.toBe(broker.port);
    },
    T,
  );

  it(
    'refuses a request without credentials with 401, a JSON reason and a Basic challenge',
    async () => {
      const response = await api(broker, 'GET', '/api/overview', { credentials: null });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'not_authorized', reason: 'Not_Authorized' });
      expect(response.headers.get('www-authenticate')).toContain('Basic');
    },
    T,
  );

  it(
    'leaves the browser challenge out for the UI (X-Requested-With)',
    async () => {
      const response = await api(broker, 'GET', '/api/overview', {
        credentials: 'guest:wrong',
        headers: { 'X-Requested-With': 'XMLHttpRequest' },
      });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'not_authorized', reason: 'Login failed' });
      expect(response.headers.get('www-authenticate')).toBeNull();
    },
    T,
  );

  it(
    'refuses a wrong password and an unknown user alike',
    async () => {
      for (const credentials of ['guest:nope', 'nobody:guest', 'garbage']) {
        const response = await api(broker, 'GET', '/api/whoami', { credentials });
        expect(response.status, credentials).toBe(401);
      }
    },
    T,
  );

  it(
    'refuses a user without a management tag',
    async () => {
      const response = await api(broker, 'GET', '/api/overview', {
        credentials: 'plain:plain-secret',
      });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'not_authorized', reason: 'Not management user' });
    },
    T,
  );

  it(
    'whoami names the user and tags',
    async () => {
      const response = await api(broker, 'GET', '/api/whoami', {
        credentials: 'monty:monty-secret',
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ name: 'monty', tags: ['monitoring'] });
    },
    T,
  );

  it(
    'keeps administrator routes from monitoring and management users',
    async () => {
      for (const credentials of ['monty:monty-secret', 'mandy:mandy-secret']) {
        const users = await api(broker, 'GET', '/api/users', { credentials });
        expect(users.status).toBe(401);
        expect(users.body).toEqual({ error: 'not_authorized', reason: 'Not administrator user' });
        const vhost = await api(broker, 'PUT', '/api/vhosts/sneaky', { credentials });
        expect(vhost.status).toBe(401);
      }
      const nodes = await api(broker, 'GET', '/api/nodes', { credentials: 'mandy:mandy-secret' });
      expect(nodes.status).toBe(401);
      const monitorNodes = await api(broker, 'GET', '/api/nodes', {
        credentials: 'monty:monty-secret',
      });
      expect(monitorNodes.status).toBe(200);
    },
    T,
  );

  it(
    'shows a management user only the vhosts it holds permissions in',
    async () => {
      const vhosts = await api(broker, 'GET', '/api/vhosts', { credentials: 'mandy:mandy-secret' });
      expect((vhosts.body as { name: string }[]).map((vhost) => vhost.name)).toEqual(['other']);
      const exchanges = await api(broker, 'GET', '/api/exchanges', {
        credentials: 'mandy:mandy-secret',
      });
      const seen = new Set((exchanges.body as { vhost: string }[]).map((entry) => entry.vhost));
      expect([...seen]).toEqual(['other']);
      const hidden = await api(broker, 'GET', `/api/queues/${vhostPath('/')}`, {
        credentials: 'mandy:mandy-secret',
      });
      expect(hidden.status).toBe(401);
      const all = await api(broker, 'GET', '/api/vhosts', { credentials: 'monty:monty-secret' });
      expect((all.body as { name: string }[]).map((vhost) => vhost.name).sort()).toEqual([
        '/',
        'other',
      ]);
    },
    T,
  );

  it(
    'lets a management user declare in its vhost but not in another',
    async () => {
      const credentials = 'mandy:mandy-secret';
      const created = await api(broker, 'PUT', '/api/queues/other/mandys-queue', {
        credentials,
        body: { durable: false },
      });
      expect(created.status).toBe(201);
      const refused = await api(broker, 'PUT', `/api/queues/${vhostPath('/')}/mandys-queue`, {
        credentials,
        body: {},
      });
      expect(refused.status).toBe(401);
    },
    T,
  );

  it(
    'answers unknown paths with 404 and wrong methods with 405',
    async () => {
      const missing = await api(broker, 'GET', '/api/nothing-here');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
      const wrongMethod = await api(broker, 'POST', '/api/overview', { body: {} });
      expect(wrongMethod.status).toBe(405);
    },
    T,
  );
});

describe('management server switch', () => {
  beforeEach(() => {
    expect.hasAssertions();
  });

  it(
    'isMgmtEnabled false starts no HTTP server and reports mgmtPort null',
    async () => {
      const running = await startBroker({
        port: 0,
        bind: '127.0.0.1',
        shardCount: 1,
        logLevel: 'silent',
        isMgmtEnabled: false,
        dataDir: temporaryDataDir(),
      });
      try {
        expect(running.mgmtPort).toBeNull();
      } finally {
        await running.close();
      }
    },
    T,
  );

  it(
    'close() releases the management port',
    async () => {
      const first = await startTestBroker({ shardCount: 1 });
      const port = first.mgmtPort!;
      await first.close();
      const second = await startTestBroker({ shardCount: 1, mgmtPort: port });
      try {
        expect(second.mgmtPort).toBe(port);
        const response = await api(second, 'GET', '/api/overview');
        expect(response.status).toBe(200);
      } finally {
        await second.close();
      }
    },
    T,
  );
});
