// Sampled statistics over the management API with real clients: per-exchange publish_in and
// publish_out, per-channel publish/confirm/deliver/ack counts, per-connection byte rates,
// per-queue memory, history samples for *_age/*_incr, and the confirm latency histogram in
// /metrics and its summary in /api/overview. amqplib publishes; HTTP reads.

import { describe, expect, it } from 'vitest';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  TEST_TIMEOUT_MS,
  useBroker,
  useClients,
} from '../helpers/e2e.js';
import { api, STATS_POLL } from '../helpers/mgmt.js';
import { pollUntil } from '../helpers/poll.js';

const T = TEST_TIMEOUT_MS * 2;

interface Details {
  rate: number;
  samples?: { sample: number; timestamp: number }[];
  avg?: number;
  avg_rate?: number;
}

async function getJson<T>(broker: Parameters<typeof api>[0], path: string): Promise<T> {
  const response = await api(broker, 'GET', path);
  expect(response.status).toBe(200);
  return response.body as T;
}

describe.each([1, 3])('sampled statistics (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  it(
    'counts and rates per exchange, channel and connection while amqplib publishes',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      await channel.assertExchange('stats.fan', 'fanout', { durable: false });
      for (const name of ['stats.a', 'stats.b']) {
        await channel.assertQueue(name, { durable: false });
        await channel.bindQueue(name, 'stats.fan', '');
      }
      for (let i = 0; i < 50; i++) channel.publish('stats.fan', '', Buffer.from(`m${i}`));
      await channel.waitForConfirms();
      // Keep publishing so two samples a second apart see a change.
      let isPublishing = true;
      const publishing = (async () => {
        while (isPublishing) {
          channel.publish('stats.fan', '', Buffer.alloc(100));
          await channel.waitForConfirms();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      try {
        interface ExchangeJson {
          message_stats: {
            publish_in: number;
            publish_out: number;
            publish_in_details: Details;
            publish_out_details: Details;
          };
        }
        const exchange = await pollUntil(
          () => getJson<ExchangeJson>(broker(), '/api/exchanges/%2F/stats.fan'),
          (each) =>
            each.message_stats.publish_in_details.rate > 0 &&
            each.message_stats.publish_out_details.rate > 0,
          STATS_POLL,
        );
        expect(exchange.message_stats.publish_in).toBeGreaterThanOrEqual(50);
        expect(exchange.message_stats.publish_out).toBe(2 * exchange.message_stats.publish_in);
        expect(exchange.message_stats.publish_in_details.rate).toBeGreaterThan(0);

        interface ChannelJson {
          confirm: boolean;
          message_stats: Record<string, number | Details>;
        }
        const channels = await pollUntil(
          () => getJson<ChannelJson[]>(broker(), '/api/channels'),
          (list) => ((list[0]?.message_stats['confirm_details'] as Details)?.rate ?? 0) > 0,
          STATS_POLL,
        );
        expect(channels).toHaveLength(1);
        const stats = channels[0]!.message_stats;
        expect(channels[0]!.confirm).toBe(true);
        expect(stats['publish']).toBeGreaterThanOrEqual(50);
        expect(stats['confirm']).toBeGreaterThanOrEqual(50);
        expect((stats['publish_details'] as Details).rate).toBeGreaterThan(0);
        expect((stats['confirm_details'] as Details).rate).toBeGreaterThan(0);

        interface ConnectionJson {
          recv_oct: number;
          send_oct: number;
          recv_oct_details: Details;
          send_oct_details: Details;
        }
        const connections = await pollUntil(
          () => getJson<ConnectionJson[]>(broker(), '/api/connections'),
          (list) =>
            (list[0]?.recv_oct_details.rate ?? 0) > 0 && (list[0]?.send_oct_details.rate ?? 0) > 0,
          STATS_POLL,
        );
        expect(connections[0]!.recv_oct).toBeGreaterThan(50 * 100);
        expect(connections[0]!.recv_oct_details.rate).toBeGreaterThan(0);
        expect(connections[0]!.send_oct_details.rate).toBeGreaterThan(0);
      } finally {
        isPublishing = false;
        await publishing;
      }

      // Deliveries and acks count on the consuming channel.
      const consumer = await amqplibChannel(connection);
      await consumer.prefetch(10);
      let acked = 0;
      await consumer.consume('stats.a', (message) => {
        if (message === null) return;
        consumer.ack(message);
        acked++;
      });
      await pollUntil(
        async () => acked,
        (count) => count >= 50,
        STATS_POLL,
      );
      const consuming = await pollUntil(
        () =>
          getJson<{ number: number; message_stats: Record<string, number> }[]>(
            broker(),
            '/api/channels',
          ),
        (list) => list.some((each) => (each.message_stats['ack'] ?? 0) >= 50),
        STATS_POLL,
      );
      const consumerStats = consuming.find((each) => each.message_stats['ack']! >= 50)!;
      expect(consumerStats.message_stats['deliver']).toBeGreaterThanOrEqual(50);
      expect(consumerStats.message_stats['deliver_get']).toBe(
        consumerStats.message_stats['deliver'],
      );
      await consumer.close();
      await channel.deleteQueue('stats.a');
      await channel.deleteQueue('stats.b');
      await channel.deleteExchange('stats.fan');
    },
    T,
  );

  it(
    "reports a queue's memory: its messages' bytes plus overhead, none once it is purged",
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      await channel.assertQueue('stats.memory', { durable: false });
      for (let i = 0; i < 20; i++) channel.sendToQueue('stats.memory', Buffer.alloc(10_000));
      await channel.waitForConfirms();
      const full = await pollUntil(
        () =>
          getJson<{ messages: number; memory: number }>(broker(), '/api/queues/%2F/stats.memory'),
        (queue) => queue.messages === 20,
        STATS_POLL,
      );
      expect(full.memory).toBeGreaterThanOrEqual(20 * 10_000);
      expect(full.memory).toBeLessThan(20 * 12_000);
      await channel.purgeQueue('stats.memory');
      const empty = await pollUntil(
        () =>
          getJson<{ messages: number; memory: number }>(broker(), '/api/queues/%2F/stats.memory'),
        (queue) => queue.messages === 0,
        STATS_POLL,
      );
      expect(empty.memory).toBe(0);
      const metrics = await (await fetch(`http://127.0.0.1:${broker().mgmtPort}/metrics`)).text();
      expect(metrics).toMatch(
        /rabbitmq_detailed_queue_process_memory_bytes\{vhost="\/",queue="stats.memory"\} 0/,
      );
      await channel.deleteQueue('stats.memory');
    },
    T,
  );

  it(
    'answers lengths_age/incr and msg_rates_age/incr with history samples',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      await channel.assertQueue('stats.history', { durable: false });
      channel.sendToQueue('stats.history', Buffer.from('one'));
      await channel.waitForConfirms();
      interface QueueJson {
        messages: number;
        messages_details: Details;
        message_stats: { publish: number; publish_details: Details };
      }
      const path =
        '/api/queues/%2F/stats.history?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5';
      // The background sampler keeps a sample every 5 s: wait for two.
      const queue = await pollUntil(
        () => getJson<QueueJson>(broker(), path),
        (each) => (each.messages_details.samples?.length ?? 0) >= 2 && each.messages === 1,
        { ...STATS_POLL, timeoutMs: 15_000 },
      );
      const samples = queue.messages_details.samples!;
      expect(samples[0]).toEqual({ sample: 1, timestamp: expect.any(Number) as number });
      expect(samples[0]!.timestamp).toBeGreaterThan(samples[1]!.timestamp);
      expect(queue.messages_details.avg).toBeGreaterThan(0);
      expect(queue.messages_details.avg_rate).toBeGreaterThanOrEqual(0);
      expect(queue.message_stats.publish_details.samples![0]!.sample).toBe(1);
      // Without the parameters, only the rate.
      const plain = await getJson<QueueJson>(broker(), '/api/queues/%2F/stats.history');
      expect(plain.messages_details).toEqual({ rate: expect.any(Number) as number });
      const overview = await getJson<{ queue_totals: { messages_details: Details } }>(
        broker(),
        '/api/overview?lengths_age=60&lengths_incr=5',
      );
      expect(overview.queue_totals.messages_details.samples!.length).toBeGreaterThanOrEqual(2);
      const bad = await api(broker(), 'GET', '/api/queues/%2F/stats.history?lengths_age=soon');
      expect(bad.status).toBe(400);
      await channel.deleteQueue('stats.history');
    },
    T,
  );

  it(
    'times confirms into a histogram on /metrics and a summary in /api/overview',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibConfirmChannel(connection);
      await channel.assertQueue('stats.confirm', { durable: true });
      for (let i = 0; i < 100; i++) {
        channel.sendToQueue('stats.confirm', Buffer.from(`c${i}`), { persistent: true });
      }
      await channel.waitForConfirms();
      const metrics = await (await fetch(`http://127.0.0.1:${broker().mgmtPort}/metrics`)).text();
      expect(metrics).toContain('# TYPE warren_confirm_latency_seconds histogram');
      const count = /^warren_confirm_latency_seconds_count (\d+)$/m.exec(metrics);
      expect(Number(count?.[1])).toBeGreaterThanOrEqual(100);
      const infinity = /^warren_confirm_latency_seconds_bucket\{le="\+Inf"\} (\d+)$/m.exec(metrics);
      expect(Number(infinity?.[1])).toBe(Number(count?.[1]));
      expect(metrics).toMatch(/^warren_confirm_latency_seconds_bucket\{le="0.001"\} \d+$/m);
      const overview = await getJson<{
        message_stats: { confirm: number };
        warren_confirm_latency: { count: number; p50_ms: number; p99_ms: number; max_ms: number };
      }>(broker(), '/api/overview');
      expect(overview.warren_confirm_latency.count).toBeGreaterThanOrEqual(100);
      expect(overview.warren_confirm_latency.p99_ms).toBeGreaterThan(0);
      expect(overview.warren_confirm_latency.p99_ms).toBeLessThanOrEqual(
        Math.max(overview.warren_confirm_latency.max_ms, 10_000),
      );
      expect(overview.message_stats.confirm).toBeGreaterThanOrEqual(100);
      await channel.deleteQueue('stats.confirm');
    },
    T,
  );
});
