// The management API's resources against a running broker with real clients: queues appear
// when amqplib declares them and their counts follow publishes; declare, bind, publish, get,
// purge and delete over HTTP; pagination; connections, channels and consumers; vhosts, users,
// permissions and definitions; errors for unknown vhosts, bad JSON and inequivalent declares.

import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, STATS_POLL, startTestBroker, type TestBroker, vhostPath } from '../helpers/mgmt.js';
import { pollUntil } from '../helpers/poll.js';

const T = 20_000;
const ROOT = vhostPath('/');

interface QueueJson {
  name: string;
  vhost: string;
  messages: number;
  messages_ready: number;
  messages_unacknowledged: number;
  consumers: number;
  durable: boolean;
  message_stats: { publish: number; publish_details: { rate: number } };
}

describe.each([1, 3])('management API resources (%i shards)', (shardCount) => {
  let broker: TestBroker;
  const connections: amqp.ChannelModel[] = [];

  async function connect(): Promise<amqp.ChannelModel> {
    const connection = await amqp.connect(broker.url);
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  }

  async function queue(name: string): Promise<QueueJson> {
    const response = await api(broker, 'GET', `/api/queues/${ROOT}/${encodeURIComponent(name)}`);
    expect(response.status).toBe(200);
    return response.body as QueueJson;
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount });
  });

  afterAll(async () => {
    await broker?.close();
  });

  beforeEach(() => {
    expect.hasAssertions();
  });

  afterEach(async () => {
    for (const connection of connections.splice(0)) await connection.close().catch(() => undefined);
  });

  it(
    'lists a queue an amqplib client declared, follows its depth, purges and deletes it',
    async () => {
      const connection = await connect();
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('orders', { durable: true });
      const listed = await api(broker, 'GET', `/api/queues/${ROOT}`);
      expect((listed.body as QueueJson[]).map((entry) => entry.name)).toContain('orders');
      for (let i = 0; i < 5; i++) channel.sendToQueue('orders', Buffer.from(`order ${i}`));
      await channel.waitForConfirms();
      const filled = await pollUntil(
        () => queue('orders'),
        (entry) => entry.messages === 5,
        STATS_POLL,
      );
      expect(filled).toMatchObject({
        name: 'orders',
        vhost: '/',
        durable: true,
        messages: 5,
        messages_ready: 5,
        messages_unacknowledged: 0,
        consumers: 0,
      });
      expect(filled.message_stats.publish).toBe(5);

      const purged = await api(broker, 'DELETE', `/api/queues/${ROOT}/orders/contents`);
      expect(purged.status).toBe(204);
      const empty = await pollUntil(
        () => queue('orders'),
        (entry) => entry.messages === 0,
        STATS_POLL,
      );
      expect(empty.messages).toBe(0);
      expect((await channel.checkQueue('orders')).messageCount).toBe(0);

      const deleted = await api(broker, 'DELETE', `/api/queues/${ROOT}/orders`);
      expect(deleted.status).toBe(204);
      const gone = await api(broker, 'GET', `/api/queues/${ROOT}/orders`);
      expect(gone.status).toBe(404);
    },
    T,
  );

  it(
    'counts unacked deliveries and consumers, and lists connections, channels and consumers',
    async () => {
      const connection = await connect();
      const channel = await connection.createChannel();
      await channel.assertQueue('work', { durable: false });
      await channel.prefetch(2);
      for (let i = 0; i < 4; i++) channel.sendToQueue('work', Buffer.from(`job ${i}`));
      const received: amqp.ConsumeMessage[] = [];
      await channel.consume('work', (message) => {
        if (message !== null) received.push(message);
      });
      const entry = await pollUntil(
        () => queue('work'),
        (value) => value.messages_unacknowledged === 2 && value.messages_ready === 2,
        STATS_POLL,
      );
      expect(entry.consumers).toBe(1);
      expect(entry.messages).toBe(4);

      const connectionsList = await api(broker, 'GET', '/api/connections');
      const names = (connectionsList.body as { name: string; user: string; vhost: string }[]).map(
        (each) => each.name,
      );
      expect(names.length).toBeGreaterThanOrEqual(1);
      const channels = (await api(broker, 'GET', '/api/channels')).body as {
        prefetch_count: number;
        consumer_count: number;
        messages_unacknowledged: number;
      }[];
      expect(channels).toContainEqual(
        expect.objectContaining({
          prefetch_count: 2,
          consumer_count: 1,
          messages_unacknowledged: 2,
        }),
      );
      const consumers = (await api(broker, 'GET', `/api/consumers/${ROOT}`)).body as {
        queue: { name: string };
        ack_required: boolean;
      }[];
      expect(consumers).toContainEqual(
        expect.objectContaining({ queue: { name: 'work', vhost: '/' }, ack_required: true }),
      );
      await channel.deleteQueue('work');
    },
    T,
  );

  it(
    'closes a connection with 320 and the X-Reason text',
    async () => {
      const connection = await connect();
      // amqplib reports 320 as a 'close' with an error, not as an 'error' event.
      const closed = new Promise<Error>((resolve) => connection.once('close', resolve));
      const list = (await api(broker, 'GET', '/api/connections')).body as { name: string }[];
      expect(list.length).toBeGreaterThan(0);
      for (const entry of list) {
        const response = await api(
          broker,
          'DELETE',
          `/api/connections/${encodeURIComponent(entry.name)}`,
          { headers: { 'X-Reason': 'maintenance window' } },
        );
        expect(response.status).toBe(204);
      }
      const error = await closed;
      expect(error.message).toContain('CONNECTION_FORCED - maintenance window');
      const missing = await api(broker, 'DELETE', '/api/connections/nobody');
      expect(missing.status).toBe(404);
    },
    T,
  );

  it(
    'declares, binds, publishes to and gets from queues and exchanges over HTTP',
    async () => {
      expect(
        (
          await api(broker, 'PUT', `/api/exchanges/${ROOT}/events`, {
            body: { type: 'topic', durable: true },
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await api(broker, 'PUT', `/api/exchanges/${ROOT}/events`, {
            body: { type: 'topic', durable: true },
          })
        ).status,
      ).toBe(204);
      expect(
        (
          await api(broker, 'PUT', `/api/queues/${ROOT}/audit`, {
            body: { durable: true, arguments: { 'x-queue-mode': 'lazy' } },
          })
        ).status,
      ).toBe(201);
      const bound = await api(broker, 'POST', `/api/bindings/${ROOT}/e/events/q/audit`, {
        body: { routing_key: 'user.*', arguments: {} },
      });
      expect(bound.status).toBe(201);
      expect(bound.headers.get('location')).toBe('user.*');
      const between = await api(broker, 'GET', `/api/bindings/${ROOT}/e/events/q/audit`);
      expect(between.body).toEqual([
        {
          source: 'events',
          vhost: '/',
          destination: 'audit',
          destination_type: 'queue',
          routing_key: 'user.*',
          arguments: {},
          properties_key: 'user.*',
        },
      ]);
      const queueBindings = await api(broker, 'GET', `/api/queues/${ROOT}/audit/bindings`);
      expect((queueBindings.body as unknown[]).length).toBe(2);

      const routed = await api(broker, 'POST', `/api/exchanges/${ROOT}/events/publish`, {
        body: {
          routing_key: 'user.created',
          payload: 'alice',
          payload_encoding: 'string',
          properties: { content_type: 'text/plain', delivery_mode: 2, headers: { source: 'api' } },
        },
      });
      expect(routed.body).toEqual({ routed: true });
      const unrouted = await api(broker, 'POST', `/api/exchanges/${ROOT}/events/publish`, {
        body: { routing_key: 'order.created', payload: 'x', properties: {} },
      });
      expect(unrouted.body).toEqual({ routed: false });
      const binary = await api(broker, 'POST', `/api/exchanges/${ROOT}/amq.default/publish`, {
        body: {
          routing_key: 'audit',
          payload: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
          payload_encoding: 'base64',
          properties: {},
        },
      });
      expect(binary.body).toEqual({ routed: true });

      const peek = await api(broker, 'POST', `/api/queues/${ROOT}/audit/get`, {
        body: { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto' },
      });
      expect(peek.status).toBe(200);
      const messages = peek.body as Record<string, unknown>[];
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatchObject({
        payload: 'alice',
        payload_encoding: 'string',
        payload_bytes: 5,
        redelivered: false,
        exchange: 'events',
        routing_key: 'user.created',
        message_count: 1,
        properties: { content_type: 'text/plain', delivery_mode: 2, headers: { source: 'api' } },
      });
      expect(messages[1]).toMatchObject({ payload: '/wD+', payload_encoding: 'base64' });
      // Requeued in place and marked redelivered; the next get takes them for good.
      const taken = await api(broker, 'POST', `/api/queues/${ROOT}/audit/get`, {
        body: { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' },
      });
      expect(
        (taken.body as { redelivered: boolean; payload: string }[]).map((m) => m.payload),
      ).toEqual(['alice', '/wD+']);
      expect((taken.body as { redelivered: boolean }[])[0]!.redelivered).toBe(true);
      const none = await api(broker, 'POST', `/api/queues/${ROOT}/audit/get`, {
        body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' },
      });
      expect(none.body).toEqual([]);

      // reject_requeue_false rejects: a queue with a dead-letter exchange dead-letters it.
      await api(broker, 'PUT', `/api/queues/${ROOT}/audit-dead`, { body: {} });
      await api(broker, 'PUT', `/api/queues/${ROOT}/audit-dlx`, {
        body: {
          arguments: {
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': 'audit-dead',
          },
        },
      });
      await api(broker, 'POST', `/api/exchanges/${ROOT}/amq.default/publish`, {
        body: { routing_key: 'audit-dlx', payload: 'doomed', properties: {} },
      });
      const rejected = await api(broker, 'POST', `/api/queues/${ROOT}/audit-dlx/get`, {
        body: { count: 1, ackmode: 'reject_requeue_false', encoding: 'auto' },
      });
      expect((rejected.body as { payload: string }[]).map((m) => m.payload)).toEqual(['doomed']);
      const deadLettered = await api(broker, 'POST', `/api/queues/${ROOT}/audit-dead/get`, {
        body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' },
      });
      const dead = (
        deadLettered.body as {
          payload: string;
          properties: { headers: Record<string, unknown> };
        }[]
      )[0];
      expect(dead?.payload).toBe('doomed');
      expect(dead?.properties.headers['x-first-death-reason']).toBe('rejected');

      const toExchange = await api(broker, 'POST', `/api/bindings/${ROOT}/e/events/e/amq.fanout`, {
        body: { routing_key: 'audit.#' },
      });
      expect(toExchange.status).toBe(201);
      const incoming = await api(
        broker,
        'GET',
        `/api/exchanges/${ROOT}/amq.fanout/bindings/destination`,
      );
      expect(incoming.body).toEqual([
        expect.objectContaining({
          source: 'events',
          destination: 'amq.fanout',
          destination_type: 'exchange',
          routing_key: 'audit.#',
        }),
      ]);
      expect(
        (await api(broker, 'DELETE', `/api/bindings/${ROOT}/e/events/e/amq.fanout/audit.%23`))
          .status,
      ).toBe(204);

      const unbound = await api(broker, 'DELETE', `/api/bindings/${ROOT}/e/events/q/audit/user.*`);
      expect(unbound.status).toBe(204);
      const again = await api(broker, 'DELETE', `/api/bindings/${ROOT}/e/events/q/audit/user.*`);
      expect(again.status).toBe(404);
      expect((await api(broker, 'DELETE', `/api/exchanges/${ROOT}/events`)).status).toBe(204);
      expect((await api(broker, 'DELETE', `/api/queues/${ROOT}/audit`)).status).toBe(204);
    },
    T,
  );

  it(
    'answers unknown vhosts and objects with 404 and bad input with 400',
    async () => {
      expect((await api(broker, 'GET', '/api/queues/no-such-vhost')).status).toBe(404);
      expect((await api(broker, 'GET', '/api/exchanges/no-such-vhost/x')).status).toBe(404);
      expect((await api(broker, 'GET', `/api/queues/${ROOT}/no-such-queue`)).status).toBe(404);
      expect((await api(broker, 'PUT', '/api/queues/no-such-vhost/q', { body: {} })).status).toBe(
        404,
      );
      const badJson = await api(broker, 'PUT', `/api/queues/${ROOT}/q-bad`, {
        rawBody: '{"durable": tru',
        headers: { 'Content-Type': 'application/json' },
      });
      expect(badJson.status).toBe(400);
      expect(badJson.body).toMatchObject({ error: 'bad_request' });
      const notObject = await api(broker, 'PUT', `/api/queues/${ROOT}/q-bad`, { body: [1, 2] });
      expect(notObject.status).toBe(400);
      const badType = await api(broker, 'PUT', `/api/exchanges/${ROOT}/x-bad`, {
        body: { type: 'nonsense' },
      });
      expect(badType.status).toBe(400);
      const noType = await api(broker, 'PUT', `/api/exchanges/${ROOT}/x-bad`, { body: {} });
      expect(noType.status).toBe(400);
      await api(broker, 'PUT', `/api/queues/${ROOT}/strict`, { body: { durable: true } });
      const inequivalent = await api(broker, 'PUT', `/api/queues/${ROOT}/strict`, {
        body: { durable: false },
      });
      expect(inequivalent.status).toBe(400);
      expect(inequivalent.body).toMatchObject({ error: 'precondition_failed' });
      expect((inequivalent.body as { reason: string }).reason).toContain(
        "inequivalent arg 'durable'",
      );
      for (const path of [`/api/queues/${ROOT}/`, '/api/vhosts/', '/api/users/']) {
        expect((await api(broker, 'PUT', path, { body: {} })).status, path).toBe(400);
      }
      const reserved = await api(broker, 'DELETE', `/api/exchanges/${ROOT}/amq.direct`);
      expect(reserved.status).toBe(403);
      const badGet = await api(broker, 'POST', `/api/queues/${ROOT}/strict/get`, {
        body: { count: 1, ackmode: 'sometimes' },
      });
      expect(badGet.status).toBe(400);
      await api(broker, 'DELETE', `/api/queues/${ROOT}/strict`);
    },
    T,
  );

  it(
    'pages, filters and sorts queues as RabbitMQ does',
    async () => {
      for (const name of ['page-a', 'page-b', 'page-c', 'other-d']) {
        await api(broker, 'PUT', `/api/queues/${ROOT}/${name}`, { body: {} });
      }
      const first = await api(broker, 'GET', `/api/queues/${ROOT}?page=1&page_size=2&name=page-`);
      expect(first.body).toMatchObject({
        filtered_count: 3,
        item_count: 2,
        page: 1,
        page_count: 2,
        page_size: 2,
      });
      const second = await api(
        broker,
        'GET',
        `/api/queues/${ROOT}?page=2&page_size=2&name=page-&sort=name`,
      );
      expect((second.body as { items: QueueJson[] }).items.map((entry) => entry.name)).toEqual([
        'page-c',
      ]);
      const regex = await api(
        broker,
        'GET',
        `/api/queues?page=1&name=${encodeURIComponent('^(other|page-a)')}&use_regex=true&sort=name&sort_reverse=true`,
      );
      expect((regex.body as { items: QueueJson[] }).items.map((entry) => entry.name)).toEqual([
        'page-a',
        'other-d',
      ]);
      const sorted = await api(broker, 'GET', `/api/queues/${ROOT}?sort=name&sort_reverse=true`);
      const names = (sorted.body as QueueJson[]).map((entry) => entry.name);
      expect(names).toEqual([...names].sort().reverse());
      expect((await api(broker, 'GET', '/api/queues?page=0')).status).toBe(400);
      expect((await api(broker, 'GET', '/api/queues?page=1&page_size=501')).status).toBe(400);
      expect((await api(broker, 'GET', '/api/queues?page=99')).status).toBe(400);
      for (const name of ['page-a', 'page-b', 'page-c', 'other-d']) {
        await api(broker, 'DELETE', `/api/queues/${ROOT}/${name}`);
      }
    },
    T,
  );

  it(
    'manages vhosts, users and permissions; a user made over HTTP connects over AMQP',
    async () => {
      expect((await api(broker, 'PUT', '/api/vhosts/shop')).status).toBe(201);
      expect((await api(broker, 'PUT', '/api/vhosts/shop')).status).toBe(204);
      // The creator gets full permissions there, as RabbitMQ grants them.
      expect((await api(broker, 'GET', '/api/permissions/shop/guest')).body).toMatchObject({
        configure: '.*',
        write: '.*',
        read: '.*',
      });
      expect((await api(broker, 'GET', '/api/vhosts/shop')).body).toMatchObject({
        name: 'shop',
        messages: 0,
      });
      expect(
        (
          await api(broker, 'PUT', '/api/users/carol', {
            body: { password: 'carol-secret', tags: 'management' },
          })
        ).status,
      ).toBe(201);
      const user = (await api(broker, 'GET', '/api/users/carol')).body as Record<string, unknown>;
      expect(user).toMatchObject({
        name: 'carol',
        tags: ['management'],
        hashing_algorithm: 'warren_password_hashing_scrypt',
      });
      expect(typeof user['password_hash']).toBe('string');
      expect(
        (
          await api(broker, 'PUT', '/api/permissions/shop/carol', {
            body: { configure: '.*', write: '.*', read: '.*' },
          })
        ).status,
      ).toBe(201);
      expect((await api(broker, 'GET', '/api/permissions/shop/carol')).body).toEqual({
        user: 'carol',
        vhost: 'shop',
        configure: '.*',
        write: '.*',
        read: '.*',
      });
      const permissions = (await api(broker, 'GET', '/api/permissions')).body as unknown[];
      expect(permissions).toContainEqual(expect.objectContaining({ user: 'carol', vhost: 'shop' }));
      const badRegex = await api(broker, 'PUT', '/api/permissions/shop/carol', {
        body: { configure: '(', write: '.*', read: '.*' },
      });
      expect(badRegex.status).toBe(400);

      const carol = await amqp.connect(`amqp://carol:carol-secret@127.0.0.1:${broker.port}/shop`);
      connections.push(carol);
      const channel = await carol.createChannel();
      await channel.assertQueue('carts');
      const carts = await api(broker, 'GET', '/api/queues/shop/carts', {
        credentials: 'carol:carol-secret',
      });
      expect(carts.status).toBe(200);

      const closed = new Promise<Error>((resolve) => carol.once('close', resolve));
      expect((await api(broker, 'DELETE', '/api/vhosts/shop')).status).toBe(204);
      expect((await closed).message).toContain('CONNECTION_FORCED');
      expect((await api(broker, 'GET', '/api/vhosts/shop')).status).toBe(404);
      expect((await api(broker, 'DELETE', '/api/vhosts/shop')).status).toBe(404);
      expect((await api(broker, 'DELETE', '/api/users/carol')).status).toBe(204);
      expect((await api(broker, 'GET', '/api/users/carol')).status).toBe(404);
    },
    T,
  );

  it(
    'exports definitions and imports them back',
    async () => {
      await api(broker, 'PUT', `/api/exchanges/${ROOT}/defs-x`, {
        body: { type: 'fanout', durable: true },
      });
      await api(broker, 'PUT', `/api/queues/${ROOT}/defs-q`, { body: { durable: true } });
      await api(broker, 'POST', `/api/bindings/${ROOT}/e/defs-x/q/defs-q`, { body: {} });
      const exported = (await api(broker, 'GET', '/api/definitions')).body as {
        exchanges: { name: string }[];
        queues: { name: string }[];
        bindings: { source: string; destination: string }[];
        users: { name: string }[];
        vhosts: { name: string }[];
      };
      expect(exported.exchanges.map((entry) => entry.name)).toContain('defs-x');
      expect(exported.queues.map((entry) => entry.name)).toContain('defs-q');
      expect(exported.bindings).toContainEqual(
        expect.objectContaining({ source: 'defs-x', destination: 'defs-q' }),
      );
      expect(exported.users.map((entry) => entry.name)).toContain('guest');

      const imported = await api(broker, 'POST', '/api/definitions', {
        body: {
          vhosts: [{ name: 'imported' }],
          queues: [{ name: 'from-file', vhost: 'imported', durable: true, arguments: {} }],
          permissions: [
            { user: 'guest', vhost: 'imported', configure: '.*', write: '.*', read: '.*' },
          ],
        },
      });
      expect(imported.status).toBe(204);
      expect((await api(broker, 'GET', '/api/queues/imported/from-file')).status).toBe(200);
      const broken = await api(broker, 'POST', '/api/definitions', {
        body: { queues: [{ name: 'q', vhost: 'missing' }] },
      });
      expect(broken.status).toBe(400);
      expect((broken.body as { reason: string }).reason).toContain("unknown vhost 'missing'");
      await api(broker, 'DELETE', '/api/vhosts/imported');
      await api(broker, 'DELETE', `/api/exchanges/${ROOT}/defs-x`);
      await api(broker, 'DELETE', `/api/queues/${ROOT}/defs-q`);
    },
    T,
  );

  it(
    'serves overview, nodes, health checks and Prometheus metrics',
    async () => {
      await api(broker, 'PUT', `/api/queues/${ROOT}/metered`, { body: {} });
      await api(broker, 'POST', `/api/exchanges/${ROOT}/amq.default/publish`, {
        body: { routing_key: 'metered', payload: 'm', properties: {} },
      });
      const overview = await pollUntil(
        async () =>
          (await api(broker, 'GET', '/api/overview')).body as Record<string, unknown> & {
            queue_totals: { messages: number };
          },
        (value) => value.queue_totals.messages >= 1,
        STATS_POLL,
      );
      expect(overview).toMatchObject({
        product_name: 'Warren',
        object_totals: expect.objectContaining({ queues: expect.any(Number) }),
        queue_totals: expect.objectContaining({ messages_ready: expect.any(Number) }),
        message_stats: expect.objectContaining({ publish_details: { rate: expect.any(Number) } }),
      });
      expect(overview['warren_shards']).toHaveLength(shardCount);
      expect(overview['listeners']).toContainEqual(
        expect.objectContaining({ protocol: 'amqp', port: broker.port }),
      );
      const nodes = (await api(broker, 'GET', '/api/nodes')).body as { mem_used: number }[];
      expect(nodes[0]!.mem_used).toBeGreaterThan(0);
      expect((await api(broker, 'GET', '/api/health/checks/alarms')).body).toEqual({
        status: 'ok',
      });
      // An alarm fails the check with 503 and names the resource, as RabbitMQ's does.
      await broker.broker.setAlarmLimits({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
      try {
        const alarmed = await api(broker, 'GET', '/api/health/checks/alarms');
        expect(alarmed.status).toBe(503);
        expect(alarmed.body).toMatchObject({
          status: 'failed',
          alarms: [expect.objectContaining({ resource: 'disk' })],
        });
        const node = (
          (await api(broker, 'GET', '/api/nodes')).body as Record<string, unknown>[]
        )[0]!;
        expect(node['disk_free_alarm']).toBe(true);
      } finally {
        await broker.broker.setAlarmLimits({ diskFreeLimitBytes: 0 });
      }
      expect((await api(broker, 'GET', '/api/health/checks/local-alarms')).status).toBe(200);
      expect((await api(broker, 'GET', '/api/health/checks/virtual-hosts')).status).toBe(200);
      expect(
        (await api(broker, 'GET', `/api/health/checks/port-listener/${broker.port}`)).status,
      ).toBe(200);
      expect((await api(broker, 'GET', '/api/health/checks/port-listener/1')).status).toBe(503);
      expect((await api(broker, 'GET', '/api/health/checks/protocol-listener/amqp')).status).toBe(
        200,
      );

      const metrics = await fetch(`http://127.0.0.1:${broker.mgmtPort}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      // Counts are sampled about once a second.
      const text = await pollUntil(
        async () => (await fetch(`http://127.0.0.1:${broker.mgmtPort}/metrics`)).text(),
        (value) => value.includes('queue="metered"} 1'),
        STATS_POLL,
      );
      expect(text).toContain('# TYPE rabbitmq_detailed_queue_messages_ready gauge');
      expect(text).toMatch(
        /rabbitmq_detailed_queue_messages_ready\{vhost="\/",queue="metered"\} 1/,
      );
      expect(text).toContain('warren_shard_command_ring_used_bytes{shard="0"}');
      expect(text).toContain('warren_shard_fsyncs_total{shard="0"}');
      // The cycle histogram counts every cycle: its +Inf bucket and _count equal the total.
      const valueOf = (series: string) =>
        Number(
          text
            .split('\n')
            .find((line) => line.startsWith(`${series} `))
            ?.split(' ')[1],
        );
      const cycles = valueOf('warren_shard_fsyncs_total{shard="0"}');
      expect(cycles).toBeGreaterThan(0);
      expect(valueOf('warren_shard_fsync_cycle_seconds_bucket{shard="0",le="+Inf"}')).toBe(cycles);
      expect(valueOf('warren_shard_fsync_cycle_seconds_count{shard="0"}')).toBe(cycles);
      expect(text).toContain('# TYPE warren_shard_fsync_cycle_seconds histogram');
      expect(text).toContain('rabbitmq_process_resident_memory_bytes');
      await api(broker, 'DELETE', `/api/queues/${ROOT}/metered`);
    },
    T,
  );
});
