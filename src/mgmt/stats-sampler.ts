// Sampled statistics for the API, the UI and /metrics. A refresh asks every shard for its
// counters over the control plane (the data path never carries statistics), at most once per
// second however many requests arrive; rates are differences between two samples, as
// RabbitMQ's *_details.rate. Runs on the network thread.

import type { Broker, QueueStats, ShardStats } from '../net/index.js';

/** Counters that only grow; totals keep what deleted queues had counted. */
export interface MessageTotals {
  published: number;
  delivered: number;
  acked: number;
}

export interface Sample {
  atMs: number;
  shards: ShardStats[];
  queues: Map<number, QueueStats>;
  totals: MessageTotals;
  ready: number;
  unacked: number;
}

const SAMPLE_INTERVAL_MS_MIN = 1000;

function emptyTotals(): MessageTotals {
  return { published: 0, delivered: 0, acked: 0 };
}

export class StatsSampler {
  private readonly broker: Broker;
  private current: Sample | null = null;
  private previous: Sample | null = null;
  private refreshing: Promise<Sample> | null = null;
  /** What queues gone since the first sample had counted, so totals never go down. */
  private readonly retired = emptyTotals();

  constructor(broker: Broker) {
    this.broker = broker;
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
    const sample: Sample = {
      atMs: Date.now(),
      shards,
      queues,
      ready,
      unacked,
      totals: {
        published: live.published + this.retired.published,
        delivered: live.delivered + this.retired.delivered,
        acked: live.acked + this.retired.acked,
      },
    };
    this.previous = this.current;
    this.current = sample;
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

  queueRate(queueId: number, field: keyof MessageTotals): number {
    return this.rate((sample) => sample.queues.get(queueId)?.[field]);
  }

  /** Log fdatasyncs per second of one shard. */
  syncRate(shardIndex: number): number {
    return this.rate((sample) => sample.shards[shardIndex]?.log?.syncCycles);
  }
}
