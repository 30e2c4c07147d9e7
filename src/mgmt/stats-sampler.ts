// Sampled statistics for the API, the UI and /metrics. A refresh asks every shard for its
// counters over the control plane (the data path never carries statistics) and reads the
// network thread's own counters (exchanges, channels, connection bytes), at most once per
// second however many requests arrive, and every few seconds in the background so history
// exists when a client asks for it. Rates are differences between the last two samples, as
// RabbitMQ's *_details.rate. Runs on the network thread.

import type {
  Broker,
  Channel,
  Connection,
  Exchange,
  QueueStats,
  ShardStats,
} from '../net/index.js';
import { SampleHistory } from './sample-history.js';

/** Counters that only grow; totals keep what deleted queues and closed channels had counted. */
export interface MessageTotals {
  published: number;
  delivered: number;
  acked: number;
  /** Publishes confirmed to clients (channel counters). */
  confirmed: number;
}

export interface ExchangeCounters {
  publishIn: number;
  publishOut: number;
}

export interface ChannelCounters {
  published: number;
  confirmed: number;
  delivered: number;
  acked: number;
}

export interface ConnectionCounters {
  receivedBytes: number;
  sentBytes: number;
}

export interface Sample {
  atMs: number;
  shards: ShardStats[];
  queues: Map<number, QueueStats>;
  exchanges: Map<Exchange, ExchangeCounters>;
  channels: Map<Channel, ChannelCounters>;
  connections: Map<Connection, ConnectionCounters>;
  totals: MessageTotals;
  ready: number;
  unacked: number;
}

const SAMPLE_INTERVAL_MS_MIN = 1000;
/** How often history is sampled without requests (RabbitMQ's collect_statistics_interval). */
const BACKGROUND_INTERVAL_MS = 5000;

function emptyTotals(): MessageTotals {
  return { published: 0, delivered: 0, acked: 0, confirmed: 0 };
}

export class StatsSampler {
  private readonly broker: Broker;
  private current: Sample | null = null;
  private previous: Sample | null = null;
  private refreshing: Promise<Sample> | null = null;
  /** What queues and channels gone since the first sample had counted, so totals never go down. */
  private readonly retired = emptyTotals();
  readonly history = new SampleHistory<Sample>(BACKGROUND_INTERVAL_MS);
  private timer: NodeJS.Timeout | null = null;

  constructor(broker: Broker) {
    this.broker = broker;
  }

  /** Samples every few seconds until stop(), so history covers quiet periods too. */
  start(): void {
    this.timer = setInterval(() => {
      this.latest().catch((error: unknown) =>
        this.broker.log('warn', `management: sampling failed: ${String(error)}`),
      );
    }, BACKGROUND_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The last sample taken, if any; views read it after awaiting latest(). */
  get latestSample(): Sample | null {
    return this.current;
  }

  /** A sample no older than a second (one shard round trip when it is). */
  latest(): Promise<Sample> {
    const current = this.current;
    if (current !== null && Date.now() - current.atMs < SAMPLE_INTERVAL_MS_MIN) {
      return Promise.resolve(current);
    }
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<Sample> {
    const shards = await this.broker.shardStats();
    const queues = new Map<number, QueueStats>();
    let ready = 0;
    let unacked = 0;
    const live = emptyTotals();
    for (const shard of shards) {
      for (const queue of shard.queues) {
        queues.set(queue.queueId, queue);
        ready += queue.ready;
        unacked += queue.unacked;
        live.published += queue.published;
        live.delivered += queue.delivered;
        live.acked += queue.acked;
      }
    }
    for (const [queueId, gone] of this.current?.queues ?? []) {
      if (queues.has(queueId)) continue;
      this.retired.published += gone.published;
      this.retired.delivered += gone.delivered;
      this.retired.acked += gone.acked;
    }
    const exchanges = new Map<Exchange, ExchangeCounters>();
    for (const vhost of this.broker.vhosts.values()) {
      for (const exchange of vhost.exchanges.values()) {
        exchanges.set(exchange, {
          publishIn: exchange.publishInCount,
          publishOut: exchange.publishOutCount,
        });
      }
    }
    const channels = new Map<Channel, ChannelCounters>();
    const connections = new Map<Connection, ConnectionCounters>();
    for (const connection of this.broker.connections.values()) {
      connections.set(connection, {
        receivedBytes: connection.socket.bytesRead,
        sentBytes: connection.socket.bytesWritten,
      });
      for (const channel of connection.channels.values()) {
        channels.set(channel, {
          published: channel.publishedCount,
          confirmed: channel.confirmedCount,
          delivered: channel.deliveredCount,
          acked: channel.ackedCount,
        });
        live.confirmed += channel.confirmedCount;
      }
    }
    for (const [channel, gone] of this.current?.channels ?? []) {
      if (!channels.has(channel)) this.retired.confirmed += gone.confirmed;
    }
    const sample: Sample = {
      atMs: Date.now(),
      shards,
      queues,
      exchanges,
      channels,
      connections,
      ready,
      unacked,
      totals: {
        published: live.published + this.retired.published,
        delivered: live.delivered + this.retired.delivered,
        acked: live.acked + this.retired.acked,
        confirmed: live.confirmed + this.retired.confirmed,
      },
    };
    this.previous = this.current;
    this.current = sample;
    this.history.offer(
      sample,
      queues.size + exchanges.size + channels.size + connections.size + shards.length,
    );
    return sample;
  }

  /** Per-second change of `read` between the last two samples (0 without two). */
  rate(read: (sample: Sample) => number | undefined): number {
    const current = this.current;
    const previous = this.previous;
    if (current === null || previous === null) return 0;
    const now = read(current);
    const before = read(previous);
    if (now === undefined || before === undefined) return 0;
    const seconds = (current.atMs - previous.atMs) / 1000;
    return seconds <= 0 ? 0 : Math.max(0, (now - before) / seconds);
  }

  queueRate(queueId: number, field: 'published' | 'delivered' | 'acked'): number {
    return this.rate((sample) => sample.queues.get(queueId)?.[field]);
  }

  /** Log fdatasyncs per second of one shard. */
  syncRate(shardIndex: number): number {
    return this.rate((sample) => sample.shards[shardIndex]?.log?.syncCycles);
  }
}
