// Policies, vhost limits and vhost-scoped definitions over the management API, checked with
// real clients: a policy set over HTTP changes what amqplib's queues do (length limit, TTL,
// dead-lettering) and survives a restart; vhost limits refuse connection.open with 530 and
// queue.declare with 406 and RabbitMQ's texts; definitions export and import carry both.

import { rmSync } from 'node:fs';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startTestBroker, temporaryDataDir } from '../helpers/broker.js';
import {
  amqplibChannel,
  getEventually,
  rejectionOf,
  replyCodeOf,
  takeAllBodies,
  TEST_TIMEOUT_MS,
  useBroker,
  useClients,
} from '../helpers/e2e.js';
import { api, STATS_POLL, type TestBroker } from '../helpers/mgmt.js';
import { pollUntil } from '../helpers/poll.js';

const T = TEST_TIMEOUT_MS * 2;

interface PolicyJson {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  definition: Record<string, unknown>;
  priority: number;
}

async function queueDepth(broker: TestBroker, vhost: string, name: string): Promise<number> {
  const response = await api(broker, 'GET', `/api/queues/${encodeURIComponent(vhost)}/${name}`);
  return (response.body as { messages: number }).messages;
}

describe('policies over the management API', () => {
  const broker = useBroker(2);
  const clients = useClients(broker);

  it(
    'PUT a policy: listed, shown on matching queues, applied to them, exported, deleted',
    async () => {
      const put = await api(broker(), 'PUT', '/api/policies/%2F/short', {
        body: {
          pattern: '^short\\.',
          definition: { 'max-length': 2 },
          priority: 1,
          'apply-to': 'queues',
        },
      });
      expect(put.status).toBe(201);
      const expected: PolicyJson = {
        vhost: '/',
        name: 'short',
        pattern: '^short\\.',
        'apply-to': 'queues',
        definition: { 'max-length': 2 },
        priority: 1,
      };
      expect((await api(broker(), 'GET', '/api/policies')).body).toEqual([expected]);
      expect((await api(broker(), 'GET', '/api/policies/%2F')).body).toEqual([expected]);
      expect((await api(broker(), 'GET', '/api/policies/%2F/short')).body).toEqual(expected);

      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      await channel.assertQueue('short.q');
      for (let i = 0; i < 5; i++) channel.sendToQueue('short.q', Buffer.from(`m${i}`));
      const depth = await pollUntil(
        () => queueDepth(broker(), '/', 'short.q'),
        (messages) => messages === 2,
        STATS_POLL,
      );
      expect(depth).toBe(2);
      expect(await takeAllBodies(channel, 'short.q')).toEqual(['m3', 'm4']);
      const queue = await api(broker(), 'GET', '/api/queues/%2F/short.q');
      expect(queue.body).toMatchObject({
        policy: 'short',
        effective_policy_definition: { 'max-length': 2 },
      });

      const exported = await api(broker(), 'GET', '/api/definitions');
      expect((exported.body as { policies: PolicyJson[] }).policies).toEqual([expected]);

      // A second PUT updates (204); a lower limit reaches the queue at once.
      const update = await api(broker(), 'PUT', '/api/policies/%2F/short', {
        body: { pattern: '^short\\.', definition: { 'max-length': 1 }, 'apply-to': 'queues' },
      });
      expect(update.status).toBe(204);
      for (let i = 0; i < 3; i++) channel.sendToQueue('short.q', Buffer.from(`n${i}`));
      expect(
        await pollUntil(
          () => queueDepth(broker(), '/', 'short.q'),
          (messages) => messages === 1,
          STATS_POLL,
        ),
      ).toBe(1);

      expect((await api(broker(), 'DELETE', '/api/policies/%2F/short')).status).toBe(204);
      expect((await api(broker(), 'GET', '/api/policies/%2F/short')).status).toBe(404);
      expect((await api(broker(), 'DELETE', '/api/policies/%2F/short')).status).toBe(404);
      await channel.deleteQueue('short.q');
    },
    T,
  );

  it(
    'a policy with message-ttl and dead-letter-exchange dead-letters expired messages',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      await channel.assertExchange('policy.dlx', 'fanout');
      await channel.assertQueue('policy.dead');
      await channel.bindQueue('policy.dead', 'policy.dlx', '');
      const put = await api(broker(), 'PUT', '/api/policies/%2F/expiring', {
        body: {
          pattern: '^expiring\\.',
          definition: { 'message-ttl': 50, 'dead-letter-exchange': 'policy.dlx' },
        },
      });
      expect(put.status).toBe(201);
      await channel.assertQueue('expiring.q');
      channel.sendToQueue('expiring.q', Buffer.from('late'));
      const dead = await getEventually(channel, 'policy.dead');
      expect(dead.content.toString()).toBe('late');
      expect(dead.properties.headers?.['x-death']?.[0]).toMatchObject({
        reason: 'expired',
        queue: 'expiring.q',
      });
      await api(broker(), 'DELETE', '/api/policies/%2F/expiring');
      await channel.deleteQueue('expiring.q');
    },
    T,
  );

  it(
    'refuses invalid policies with 400 and unknown vhosts with 404; policymakers may set them',
    async () => {
      const bad = await api(broker(), 'PUT', '/api/policies/%2F/bad', {
        body: { pattern: '.*', definition: { 'max-length': -1 } },
      });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('max-length');
      const unknownKey = await api(broker(), 'PUT', '/api/policies/%2F/bad', {
        body: { pattern: '.*', definition: { 'no-such-key': 1 } },
      });
      expect(unknownKey.status).toBe(400);
      const noVhost = await api(broker(), 'PUT', '/api/policies/nowhere/p', {
        body: { pattern: '.*', definition: { 'max-length': 1 } },
      });
      expect(noVhost.status).toBe(404);
      await api(broker(), 'PUT', '/api/users/pm', {
        body: { password: 'pm', tags: 'policymaker' },
      });
      await api(broker(), 'PUT', '/api/users/watcher', {
        body: { password: 'watcher', tags: 'management' },
      });
      await api(broker(), 'PUT', '/api/permissions/%2F/pm', {
        body: { configure: '.*', write: '.*', read: '.*' },
      });
      const byPolicymaker = await api(broker(), 'PUT', '/api/policies/%2F/pm-policy', {
        body: { pattern: '^pm\\.', definition: { expires: 60000 } },
        credentials: 'pm:pm',
      });
      expect(byPolicymaker.status).toBe(201);
      const byManagement = await api(broker(), 'GET', '/api/policies', {
        credentials: 'watcher:watcher',
      });
      expect(byManagement.status).toBe(401);
      await api(broker(), 'DELETE', '/api/policies/%2F/pm-policy');
    },
    T,
  );
});

describe('operator policies over the management API', () => {
  const broker = useBroker(2);
  const clients = useClients(broker);

  it(
    'cap what policies and arguments ask for; exported as operator_policy parameters',
    async () => {
      const cap = await api(broker(), 'PUT', '/api/operator-policies/%2F/cap', {
        body: { pattern: '^capped\\.', definition: { 'max-length': 3 }, 'apply-to': 'queues' },
      });
      expect(cap.status).toBe(201);
      await api(broker(), 'PUT', '/api/policies/%2F/loose', {
        body: { pattern: '^capped\\.', definition: { 'max-length': 10 } },
      });
      expect((await api(broker(), 'GET', '/api/operator-policies/%2F')).body).toEqual([
        {
          vhost: '/',
          name: 'cap',
          pattern: '^capped\\.',
          'apply-to': 'queues',
          definition: { 'max-length': 3 },
          priority: 0,
        },
      ]);
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      await channel.assertQueue('capped.q', { arguments: { 'x-max-length': 20 } });
      for (let i = 0; i < 6; i++) channel.sendToQueue('capped.q', Buffer.from(`m${i}`));
      expect(
        await pollUntil(
          () => queueDepth(broker(), '/', 'capped.q'),
          (messages) => messages === 3,
          STATS_POLL,
        ),
      ).toBe(3);
      expect((await api(broker(), 'GET', '/api/queues/%2F/capped.q')).body).toMatchObject({
        policy: 'loose',
        operator_policy: 'cap',
        effective_policy_definition: { 'max-length': 3 },
      });
      const exported = (await api(broker(), 'GET', '/api/definitions')).body as {
        parameters: unknown[];
      };
      expect(exported.parameters).toContainEqual({
        vhost: '/',
        component: 'operator_policy',
        name: 'cap',
        value: {
          pattern: '^capped\\.',
          'apply-to': 'queues',
          definition: { 'max-length': 3 },
          priority: 0,
        },
      });
      const notOperatorKey = await api(broker(), 'PUT', '/api/operator-policies/%2F/bad', {
        body: { pattern: '.*', definition: { 'dead-letter-exchange': 'x' } },
      });
      expect(notOperatorKey.status).toBe(400);
      await api(broker(), 'PUT', '/api/users/maker', {
        body: { password: 'maker', tags: 'policymaker' },
      });
      const byPolicymaker = await api(broker(), 'GET', '/api/operator-policies', {
        credentials: 'maker:maker',
      });
      expect(byPolicymaker.status).toBe(401);
      // Without the cap, the user's policy (10) applies.
      expect((await api(broker(), 'DELETE', '/api/operator-policies/%2F/cap')).status).toBe(204);
      for (let i = 0; i < 10; i++) channel.sendToQueue('capped.q', Buffer.from(`n${i}`));
      expect(
        await pollUntil(
          () => queueDepth(broker(), '/', 'capped.q'),
          (messages) => messages === 10,
          STATS_POLL,
        ),
      ).toBe(10);
      await api(broker(), 'DELETE', '/api/policies/%2F/loose');
      await channel.deleteQueue('capped.q');
    },
    T,
  );
});

describe('vhost limits over the management API', () => {
  const broker = useBroker(2, { queueMaxPerVhost: 3 });
  const clients = useClients(broker);

  it(
    'max-connections refuses connection.open past it with 530 until one closes',
    async () => {
      expect((await api(broker(), 'PUT', '/api/vhosts/limited')).status).toBe(201);
      const put = await api(broker(), 'PUT', '/api/vhost-limits/limited/max-connections', {
        body: { value: 1 },
      });
      expect(put.status).toBe(201);
      expect((await api(broker(), 'GET', '/api/vhost-limits')).body).toEqual([
        { vhost: 'limited', value: { 'max-connections': 1 } },
      ]);
      expect((await api(broker(), 'GET', '/api/vhost-limits/limited')).body).toEqual([
        { vhost: 'limited', value: { 'max-connections': 1 } },
      ]);
      const first = clients.track(await amqp.connect(clients.url('', 'guest:guest', 'limited')));
      // Another vhost is not limited.
      await clients.amqplib();
      const raw = await clients.raw();
      const refused = await rejectionOf(raw.handshake({ vhost: 'limited' }));
      expect(refused.message).toContain('530');
      expect(refused.message).toContain(
        "access to vhost 'limited' refused for user 'guest': connection limit (1) is reached",
      );
      await first.close();
      const again = clients.track(await amqp.connect(clients.url('', 'guest:guest', 'limited')));
      expect(await again.createChannel()).toBeDefined();
      expect(
        (await api(broker(), 'DELETE', '/api/vhost-limits/limited/max-connections')).status,
      ).toBe(204);
      expect((await api(broker(), 'GET', '/api/vhost-limits')).body).toEqual([]);
      // Without the limit, more connections open.
      const more = clients.track(await amqp.connect(clients.url('', 'guest:guest', 'limited')));
      expect(await more.createChannel()).toBeDefined();
    },
    T,
  );

  it(
    'max-queues fails declares past it with 406; the lower of it and --max-queues-per-vhost applies',
    async () => {
      await api(broker(), 'PUT', '/api/vhosts/small');
      await api(broker(), 'PUT', '/api/vhost-limits/small/max-queues', { body: { value: 1 } });
      const connection = clients.track(await amqp.connect(clients.url('', 'guest:guest', 'small')));
      const channel = await amqplibChannel(connection);
      await channel.assertQueue('only');
      const error = await rejectionOf(channel.assertQueue('second'));
      expect(replyCodeOf(error)).toBe(406);
      expect(error.message).toContain(
        "cannot declare queue 'second' in vhost 'small': vhost queue limit (1) is reached",
      );
      const overHttp = await api(broker(), 'PUT', '/api/queues/small/second', { body: {} });
      expect(overHttp.status).toBe(400);
      expect(JSON.stringify(overHttp.body)).toContain('vhost queue limit (1) is reached');
      // A vhost limit above the broker's --max-queues-per-vhost (3): the broker's applies.
      await api(broker(), 'PUT', '/api/vhost-limits/small/max-queues', { body: { value: 10 } });
      const wide = await amqplibChannel(connection);
      await wide.assertQueue('second');
      await wide.assertQueue('third');
      const past = await rejectionOf(wide.assertQueue('fourth'));
      expect(past.message).toContain('vhost queue limit (3) is reached');
      const bad = await api(broker(), 'PUT', '/api/vhost-limits/small/max-channels', {
        body: { value: 1 },
      });
      expect(bad.status).toBe(400);
      const notNumber = await api(broker(), 'PUT', '/api/vhost-limits/small/max-queues', {
        body: { value: 'many' },
      });
      expect(notNumber.status).toBe(400);
    },
    T,
  );
});

describe('policies and vhost limits are durable and travel in definitions', () => {
  it(
    'survive a restart; export as policies and vhost-limits parameters; import elsewhere',
    async () => {
      expect.hasAssertions();
      const dataDir = temporaryDataDir();
      let first: TestBroker | null = await startTestBroker({ dataDir, shardCount: 2 });
      let second: TestBroker | null = null;
      let third: TestBroker | null = null;
      try {
        await api(first, 'PUT', '/api/vhosts/shop');
        await api(first, 'PUT', '/api/policies/shop/ttl', {
          body: { pattern: '^orders$', definition: { 'message-ttl': 60000 }, priority: 2 },
        });
        await api(first, 'PUT', '/api/vhost-limits/shop/max-queues', { body: { value: 5 } });
        await api(first, 'PUT', '/api/operator-policies/shop/cap', {
          body: { pattern: '.*', definition: { expires: 3_600_000 } },
        });
        await api(first, 'PUT', '/api/queues/shop/orders', { body: { durable: true } });
        await first.close();
        first = null;
        second = await startTestBroker({ dataDir, shardCount: 2 });
        expect((await api(second, 'GET', '/api/policies/shop/ttl')).body).toMatchObject({
          pattern: '^orders$',
          definition: { 'message-ttl': 60000 },
          priority: 2,
        });
        expect((await api(second, 'GET', '/api/operator-policies/shop/cap')).status).toBe(200);
        expect((await api(second, 'GET', '/api/vhost-limits/shop')).body).toEqual([
          { vhost: 'shop', value: { 'max-queues': 5 } },
        ]);
        expect((await api(second, 'GET', '/api/queues/shop/orders')).body).toMatchObject({
          policy: 'ttl',
        });
        const exported = (await api(second, 'GET', '/api/definitions')).body as {
          parameters: unknown[];
          policies: unknown[];
        };
        expect(exported.parameters).toContainEqual({
          vhost: 'shop',
          component: 'vhost-limits',
          name: 'limits',
          value: { 'max-queues': 5 },
        });

        // One vhost's definitions: no users, vhosts or permissions, no vhost field on entries.
        const scoped = await api(second, 'GET', '/api/definitions/shop');
        expect(scoped.status).toBe(200);
        const vhostDefinitions = scoped.body as Record<string, unknown[]>;
        expect(vhostDefinitions['users']).toBeUndefined();
        expect(vhostDefinitions['queues']).toEqual([
          { name: 'orders', durable: true, auto_delete: false, arguments: {} },
        ]);
        expect(vhostDefinitions['policies']).toEqual([
          {
            name: 'ttl',
            pattern: '^orders$',
            'apply-to': 'all',
            definition: { 'message-ttl': 60000 },
            priority: 2,
          },
        ]);
        expect(vhostDefinitions['parameters']).toContainEqual({
          component: 'vhost-limits',
          name: 'limits',
          value: { 'max-queues': 5 },
        });
        expect((await api(second, 'GET', '/api/definitions/nowhere')).status).toBe(404);

        third = await startTestBroker({ shardCount: 1 });
        // Into another vhost of another broker, through the vhost-scoped import.
        await api(third, 'PUT', '/api/vhosts/copy');
        const imported = await api(third, 'POST', '/api/definitions/copy', {
          body: vhostDefinitions,
        });
        expect(imported.status).toBe(204);
        expect((await api(third, 'GET', '/api/queues/copy/orders')).body).toMatchObject({
          name: 'orders',
          vhost: 'copy',
          policy: 'ttl',
        });
        expect((await api(third, 'GET', '/api/operator-policies/copy/cap')).status).toBe(200);
        expect((await api(third, 'GET', '/api/vhost-limits/copy')).body).toEqual([
          { vhost: 'copy', value: { 'max-queues': 5 } },
        ]);
        expect(
          (await api(third, 'POST', '/api/definitions/nowhere', { body: vhostDefinitions })).status,
        ).toBe(404);
        // And the whole-broker import.
        const whole = await api(third, 'POST', '/api/definitions', { body: exported });
        expect(whole.status).toBe(204);
        expect((await api(third, 'GET', '/api/policies/shop/ttl')).status).toBe(200);
        expect((await api(third, 'GET', '/api/vhost-limits/shop')).body).toEqual([
          { vhost: 'shop', value: { 'max-queues': 5 } },
        ]);
      } finally {
        await first?.close();
        await second?.close();
        await third?.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    T * 2,
  );
});
