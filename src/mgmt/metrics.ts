// GET /metrics in Prometheus' text format (version 0.0.4): per-queue depth and counters with
// rabbitmq_prometheus' metric names where one exists, so dashboards built for RabbitMQ find
// them, plus Warren's shards (ring occupancy, log appends, fsync counts and time) and memory.

import type { Broker } from '../net/index.js';
import type { StatsSampler } from './stats-sampler.js';

type Labels = Record<string, string | number>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Collects metric families in order, each with its HELP and TYPE lines once. */
class MetricsText {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  add(name: string, type: 'gauge' | 'counter', help: string, value: number, labels: Labels = {}) {
    this.declare(name, type, help);
    this.sample(name, value, labels);
  }

  /** A histogram from per-bucket counts (the last beyond every bound), in seconds. */
  histogram(
    name: string,
    help: string,
    labels: Labels,
    boundsMs: readonly number[],
    counts: ArrayLike<number>,
    sumMs: number,
  ) {
    this.declare(name, 'histogram', help);
    let cumulative = 0;
    boundsMs.forEach((boundMs, index) => {
      cumulative += counts[index] ?? 0;
      this.sample(`${name}_bucket`, cumulative, { ...labels, le: boundMs / 1000 });
    });
    cumulative += counts[boundsMs.length] ?? 0;
    this.sample(`${name}_bucket`, cumulative, { ...labels, le: '+Inf' });
    this.sample(`${name}_sum`, sumMs / 1000, labels);
    this.sample(`${name}_count`, cumulative, labels);
  }

  private declare(name: string, type: string, help: string) {
    if (this.declared.has(name)) return;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  private sample(name: string, value: number, labels: Labels) {
    const entries = Object.entries(labels);
    const labelText =
      entries.length === 0
        ? ''
        : `{${entries.map(([key, each]) => `${key}="${escapeLabel(String(each))}"`).join(',')}}`;
    this.lines.push(`${name}${labelText} ${Number.isFinite(value) ? value : 0}`);
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export async function renderMetrics(broker: Broker, sampler: StatsSampler): Promise<string> {
  const sample = await sampler.latest();
  const text = new MetricsText();
  let connections = 0;
  let channels = 0;
  for (const connection of broker.connections.values()) {
    if (!connection.isOpen) continue;
    connections++;
    channels += connection.channels.size;
  }
  text.add('rabbitmq_connections', 'gauge', 'Connections currently open', connections);
  text.add('rabbitmq_channels', 'gauge', 'Channels currently open', channels);
  text.add('rabbitmq_consumers', 'gauge', 'Consumers currently attached', broker.consumers.size);
  let queueCount = 0;
  for (const vhost of broker.vhosts.values()) queueCount += vhost.queues.size;
  text.add('rabbitmq_queues', 'gauge', 'Queues', queueCount);
  text.add('rabbitmq_queue_messages_ready', 'gauge', 'Messages ready in all queues', sample.ready);
  text.add(
    'rabbitmq_queue_messages_unacked',
    'gauge',
    'Messages delivered and unacknowledged in all queues',
    sample.unacked,
  );
  text.add(
    'rabbitmq_global_messages_received_total',
    'counter',
    'Messages enqueued (per queue reached)',
    sample.totals.published,
  );
  text.add(
    'rabbitmq_global_messages_delivered_total',
    'counter',
    'Messages delivered to consumers or gets',
    sample.totals.delivered,
  );
  text.add(
    'rabbitmq_global_messages_acknowledged_total',
    'counter',
    'Messages acknowledged',
    sample.totals.acked,
  );

  for (const vhost of broker.vhosts.values()) {
    for (const queue of vhost.queues.values()) {
      const stats = sample.queues.get(queue.queueId);
      const labels = { vhost: vhost.name, queue: queue.name };
      text.add(
        'rabbitmq_detailed_queue_messages_ready',
        'gauge',
        'Messages ready to be delivered',
        stats?.ready ?? 0,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_messages_unacked',
        'gauge',
        'Messages delivered and not yet acknowledged',
        stats?.unacked ?? 0,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_messages',
        'gauge',
        'Messages ready and unacknowledged',
        (stats?.ready ?? 0) + (stats?.unacked ?? 0),
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_consumers',
        'gauge',
        'Consumers of the queue',
        queue.consumers.size,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_messages_published_total',
        'counter',
        'Messages enqueued',
        stats?.published ?? 0,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_messages_delivered_total',
        'counter',
        'Messages delivered',
        stats?.delivered ?? 0,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_messages_acked_total',
        'counter',
        'Messages acknowledged',
        stats?.acked ?? 0,
        labels,
      );
      text.add(
        'rabbitmq_detailed_queue_process_memory_bytes',
        'gauge',
        "Estimated memory of the queue's messages (its share of message blocks in memory plus per-message overhead)",
        stats?.memoryBytes ?? 0,
        labels,
      );
      text.add(
        'warren_queue_publish_rate',
        'gauge',
        'Messages enqueued per second (sampled)',
        sampler.queueRate(queue.queueId, 'published'),
        labels,
      );
    }
  }

  const latency = broker.confirmLatency;
  text.histogram(
    'warren_confirm_latency_seconds',
    'Publisher confirm latency: publish received to basic.ack sent, on the network thread',
    {},
    latency.boundsMs,
    latency.counts,
    latency.sumMs,
  );

  const occupancy = broker.ringOccupancy();
  for (const shard of sample.shards) {
    const labels = { shard: shard.shardIndex };
    const ring = occupancy[shard.shardIndex];
    text.add(
      'warren_shard_command_ring_used_bytes',
      'gauge',
      'Bytes waiting in the command ring (network thread to shard)',
      ring?.commandRingBytes ?? 0,
      labels,
    );
    text.add(
      'warren_shard_event_ring_used_bytes',
      'gauge',
      'Bytes waiting in the event ring (shard to network thread)',
      ring?.eventRingBytes ?? 0,
      labels,
    );
    text.add(
      'warren_shard_ring_capacity_bytes',
      'gauge',
      'Capacity of each shard ring',
      ring?.ringBytes ?? 0,
      labels,
    );
    text.add(
      'warren_shard_queues',
      'gauge',
      'Queues held by the shard',
      shard.queues.length,
      labels,
    );
    text.add(
      'warren_shard_body_bytes_in_memory',
      'gauge',
      'Message body bytes held in memory',
      shard.bodyBytesInMemory,
      labels,
    );
    text.add(
      'warren_shard_pending_confirms',
      'gauge',
      'Publishes waiting for their log append to be durable',
      shard.pendingConfirms,
      labels,
    );
    const log = shard.log;
    if (log === null) continue;
    text.add(
      'warren_shard_log_appends_total',
      'counter',
      'Records appended to the shard log',
      log.appendSeq,
      labels,
    );
    text.add(
      'warren_shard_log_written_bytes_total',
      'counter',
      'Bytes written to the shard log',
      log.bytesWritten,
      labels,
    );
    text.add(
      'warren_shard_log_bytes',
      'gauge',
      'Bytes held in log segments',
      log.totalBytes,
      labels,
    );
    text.add('warren_shard_log_segments', 'gauge', 'Open log segments', log.segments, labels);
    text.add(
      'warren_shard_fsyncs_total',
      'counter',
      'Group-commit fdatasync cycles',
      log.syncCycles,
      labels,
    );
    text.add(
      'warren_shard_fsync_seconds_total',
      'counter',
      'Time spent in fdatasync',
      log.syncMsTotal / 1000,
      labels,
    );
    text.add(
      'warren_shard_fsync_seconds_max',
      'gauge',
      'Longest fdatasync so far',
      log.syncMsMax / 1000,
      labels,
    );
    text.add(
      'warren_shard_fsyncs_per_second',
      'gauge',
      'fdatasync cycles per second (sampled)',
      sampler.syncRate(shard.shardIndex),
      labels,
    );
    text.histogram(
      'warren_shard_fsync_cycle_seconds',
      'Duration of each group-commit cycle (write and fdatasync)',
      labels,
      log.syncMsBucketBounds,
      log.syncMsBucketCounts,
      log.syncMsTotal,
    );
  }

  const memory = process.memoryUsage();
  text.add(
    'rabbitmq_process_resident_memory_bytes',
    'gauge',
    'Resident memory of the broker process',
    memory.rss,
  );
  text.add('warren_heap_used_bytes', 'gauge', 'V8 heap in use (network thread)', memory.heapUsed);
  text.add(
    'warren_external_memory_bytes',
    'gauge',
    'Memory outside the V8 heap (buffers, rings)',
    memory.external,
  );
  text.add(
    'rabbitmq_process_start_time_seconds',
    'gauge',
    'When the broker process started',
    Math.round(Date.now() / 1000 - process.uptime()),
  );
  return text.toString();
}
