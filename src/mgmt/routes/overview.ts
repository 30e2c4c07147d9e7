// /api/overview, /api/nodes, the health checks and the small fixed answers
// tools ask for first (extensions, cluster-name). The overview adds Warren's shards (ring
// occupancy, fsync counts and rates) under `warren_shards`, which RabbitMQ tools ignore.

import { availableParallelism } from 'node:os';
import { memoryLimitBytes, RABBITMQ_VERSION, WARREN_VERSION } from '../../net/index.js';
import { type ApiContext, ok, type Route, sampledStats } from '../api-types.js';
import { HttpError, notFound } from '../http-errors.js';
import { NODE_NAME } from '../views.js';
import { visibleVhost, visibleVhosts } from './visibility.js';

const EXCHANGE_TYPES = ['direct', 'fanout', 'headers', 'topic'].map((name) => ({
  name,
  description: `AMQP ${name} exchange, as per the AMQP specification`,
  enabled: true,
}));

function details(rate: number): { rate: number } {
  return { rate: Math.round(rate * 10) / 10 };
}

/** Publish-to-confirm latency since start, from the network thread's histogram. */
function confirmLatencySummary(context: ApiContext): Record<string, number> {
  const latency = context.broker.confirmLatency;
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    count: latency.count,
    mean_ms: latency.count === 0 ? 0 : round(latency.sumMs / latency.count),
    p50_ms: round(latency.quantileMs(0.5)),
    p99_ms: round(latency.quantileMs(0.99)),
    max_ms: round(latency.maxMs),
  };
}

async function overview(context: ApiContext): Promise<Record<string, unknown>> {
  const { broker, sampler } = context;
  const stats = await sampledStats(context);
  const sample = sampler.latestSample!;
  const totals = (read: (each: typeof sample) => number) => stats.of(read, 'msg_rates');
  const lengths = (read: (each: typeof sample) => number) => stats.of(read, 'lengths');
  const vhosts = visibleVhosts(context);
  const names = new Set(vhosts.map((vhost) => vhost.name));
  let queues = 0;
  let exchanges = 0;
  for (const vhost of vhosts) {
    queues += vhost.queues.size;
    exchanges += vhost.exchanges.size;
  }
  let connections = 0;
  let channels = 0;
  for (const connection of broker.connections.values()) {
    if (!connection.isOpen || !names.has(connection.vhost?.name ?? '')) continue;
    connections++;
    channels += connection.channels.size;
  }
  const occupancy = broker.ringOccupancy();
  return {
    management_version: WARREN_VERSION,
    rates_mode: 'basic',
    exchange_types: EXCHANGE_TYPES,
    product_version: WARREN_VERSION,
    product_name: 'Warren',
    rabbitmq_version: RABBITMQ_VERSION,
    cluster_name: 'warren',
    erlang_version: `Node.js ${process.version}`,
    erlang_full_version: `Node.js ${process.version}`,
    disable_stats: false,
    enable_queue_totals: true,
    message_stats: {
      publish: sample.totals.published,
      publish_details: totals((each) => each.totals.published),
      confirm: sample.totals.confirmed,
      confirm_details: totals((each) => each.totals.confirmed),
      deliver_get: sample.totals.delivered,
      deliver_get_details: totals((each) => each.totals.delivered),
      deliver: sample.totals.delivered,
      deliver_details: totals((each) => each.totals.delivered),
      ack: sample.totals.acked,
      ack_details: totals((each) => each.totals.acked),
    },
    queue_totals: {
      messages: sample.ready + sample.unacked,
      messages_details: lengths((each) => each.ready + each.unacked),
      messages_ready: sample.ready,
      messages_ready_details: lengths((each) => each.ready),
      messages_unacknowledged: sample.unacked,
      messages_unacknowledged_details: lengths((each) => each.unacked),
    },
    warren_confirm_latency: confirmLatencySummary(context),
    object_totals: {
      connections,
      channels,
      exchanges,
      queues,
      consumers: broker.consumers.size,
    },
    statistics_db_event_queue: 0,
    node: NODE_NAME,
    listeners: [
      {
        node: NODE_NAME,
        protocol: 'amqp',
        ip_address: broker.options.bind,
        port: context.ports.amqp,
      },
      {
        node: NODE_NAME,
        // RabbitMQ names its management listener 'https' when it serves TLS.
        protocol: broker.options.mgmtTlsCertFile === null ? 'http' : 'https',
        ip_address: broker.options.bind,
        port: context.ports.http,
      },
    ],
    contexts: [
      { node: NODE_NAME, description: 'Warren Management', path: '/', port: context.ports.http },
    ],
    warren_shards: sample.shards.map((shard) => {
      const ring = occupancy[shard.shardIndex];
      return {
        shard: shard.shardIndex,
        queues: shard.queues.length,
        body_bytes_in_memory: shard.bodyBytesInMemory,
        pending_confirms: shard.pendingConfirms,
        command_ring_bytes: ring?.commandRingBytes ?? 0,
        event_ring_bytes: ring?.eventRingBytes ?? 0,
        ring_bytes: ring?.ringBytes ?? 0,
        fsyncs: shard.log?.syncCycles ?? 0,
        fsync_details: details(sampler.syncRate(shard.shardIndex)),
        fsync_ms_max: shard.log?.syncMsMax ?? 0,
        fsync_ms_total: shard.log?.syncMsTotal ?? 0,
        log_bytes: shard.log?.totalBytes ?? 0,
        log_segments: shard.log?.segments ?? 0,
      };
    }),
  };
}

function nodeView(context: ApiContext): Record<string, unknown> {
  const memory = process.memoryUsage();
  return {
    name: NODE_NAME,
    type: 'disc',
    running: true,
    being_drained: false,
    mem_used: memory.rss,
    mem_limit: memoryLimitBytes(context.broker.options.memoryHighWatermark),
    mem_alarm: context.broker.activeAlarms.has('memory'),
    disk_free_limit: context.broker.alarmLimits?.diskFreeLimitBytes ?? 0,
    disk_free_alarm: context.broker.activeAlarms.has('disk'),
    fd_used: context.broker.connections.size,
    sockets_used: context.broker.connections.size,
    proc_used: context.broker.options.shardCount + 1,
    processors: availableParallelism(),
    uptime: Math.round(process.uptime() * 1000),
    os_pid: String(process.pid),
    rates_mode: 'basic',
    partitions: [],
    exchange_types: EXCHANGE_TYPES,
    warren_memory: {
      rss: memory.rss,
      heap_used: memory.heapUsed,
      heap_total: memory.heapTotal,
      external: memory.external,
      array_buffers: memory.arrayBuffers,
    },
  };
}

const OK = { status: 'ok' };

function failed(reason: string): HttpError {
  return new HttpError(503, 'failed', reason);
}

export const overviewRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/overview',
    access: 'management',
    handle: async (context) => ok(await overview(context)),
  },
  {
    method: 'GET',
    path: '/api/cluster-name',
    access: 'management',
    handle: () => ok({ name: 'warren' }),
  },
  { method: 'GET', path: '/api/extensions', access: 'management', handle: () => ok([]) },
  {
    method: 'GET',
    path: '/api/nodes',
    access: 'monitor',
    handle: (context) => ok([nodeView(context)]),
  },
  {
    method: 'GET',
    path: '/api/nodes/:node',
    access: 'monitor',
    handle(context) {
      if (context.params['node'] !== NODE_NAME) throw notFound();
      return ok(nodeView(context));
    },
  },
  // Alarm checks fail with 503 and the resources in alarm, as RabbitMQ's do.
  ...['alarms', 'local-alarms'].map((check): Route => ({
    method: 'GET',
    path: `/api/health/checks/${check}`,
    access: 'management',
    handle(context) {
      const active = [...context.broker.activeAlarms];
      if (active.length === 0) return ok(OK);
      return {
        status: 503,
        json: {
          status: 'failed',
          reason: 'There are alarms in effect in the cluster',
          alarms: active.map((resource) => ({ node: NODE_NAME, resource })),
        },
      };
    },
  })),
  // No quorum or mirrored queues (virtual-hosts is in health.ts: it follows the shards).
  ...['node-is-quorum-critical', 'node-is-mirror-sync-critical'].map((check): Route => ({
    method: 'GET',
    path: `/api/health/checks/${check}`,
    access: 'management',
    handle: () => ok(OK),
  })),
  {
    method: 'GET',
    path: '/api/health/checks/port-listener/:port',
    access: 'management',
    handle(context) {
      const port = Number(context.params['port']);
      if (port === context.ports.amqp || port === context.ports.http) return ok(OK);
      throw failed(`No active listener on port ${context.params['port']}`);
    },
  },
  {
    method: 'GET',
    path: '/api/health/checks/protocol-listener/:protocol',
    access: 'management',
    handle(context) {
      const protocol = (context.params['protocol'] ?? '').toLowerCase();
      if (['amqp', 'amqp091', 'amqp0-9-1', 'http', 'https', 'management'].includes(protocol)) {
        return ok(OK);
      }
      throw failed(`No active listener for protocol ${context.params['protocol']}`);
    },
  },
  {
    method: 'GET',
    path: '/api/aliveness-test/:vhost',
    access: 'management',
    handle(context) {
      visibleVhost(context);
      return ok(OK);
    },
  },
];
