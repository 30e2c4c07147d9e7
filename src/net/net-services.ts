// What connections and channels use of the broker, as one bag of narrow services the broker
// builds once: settings, clocks, users, vhosts, queues, routing, the shard links, consumers,
// direct reply-to targets, the event-loop turns and the publish gate of the resource alarms.
// Network thread only. Declared here, below every connection and channel module, so none of
// them imports the broker.

import { randomBytes } from 'node:crypto';
import type { FieldTable } from '../codec/index.js';
import type { LatencyHistogram } from '../util/index.js';
import type { AccessControl } from './access-control.js';
import type { BatchClock } from './confirm-tracker.js';
import type { ConsumerRegistry } from './consumer.js';
import type { InputTurns } from './input-turns.js';
import type { Logger, LogLevel } from './logger.js';
import type { BrokerOptions } from './options.js';
import type { QueueLifecycle } from './queue-lifecycle.js';
import type { Router } from './router.js';
import type { ShardLink } from './shard-link.js';
import type { VirtualHost } from './vhost.js';

/** A clock read often and updated rarely; heartbeats need only second precision. */
export interface CoarseClock {
  nowMs: number;
}

/** While a resource alarm is in effect, connections that publish stop being read. */
export interface PublishGate {
  isBlocked: boolean;
  /** RabbitMQ's connection.blocked reason, e.g. 'low on memory'. */
  reasonText: string;
}

/** A channel consuming from amq.rabbitmq.reply-to: replies are delivered straight to it. */
export interface ReplyTarget {
  /** `block` is a message block (see shard/records.ts) the channel may keep. */
  deliverReply(block: Buffer): void;
}

export interface NetServices {
  readonly options: BrokerOptions;
  readonly logger: Logger;
  /** Second-precision time for heartbeats and timeouts. */
  readonly clock: CoarseClock;
  /**
   * performance.now() read once per socket chunk and once per batch of shard events: fine enough
   * to time confirms, without a clock read per message.
   */
  readonly batchClock: BatchClock;
  /** Publish arrival to basic.ack sent, for every confirmed publish (management reads it). */
  readonly confirmLatency: LatencyHistogram;
  /** connection.start's server-properties. */
  readonly serverProperties: FieldTable;
  readonly access: AccessControl;
  readonly vhosts: ReadonlyMap<string, VirtualHost>;
  readonly queues: QueueLifecycle;
  readonly router: Router;
  /** One per shard, in shard order; filled when the shards start. */
  readonly links: readonly ShardLink[];
  readonly consumers: ConsumerRegistry;
  /** Channels consuming from amq.rabbitmq.reply-to, by the key in their reply-to names. */
  readonly replyTargets: Map<string, ReplyTarget>;
  readonly turns: InputTurns;
  readonly publishGate: PublishGate;
  /** Calls back once every definition change made so far is durable. */
  whenDefinitionsDurable(callback: () => void): void;
  log(level: Exclude<LogLevel, 'silent'>, text: string, context?: object): void;
}

/** "amq.gen-" plus 22 URL-safe base64 characters, as RabbitMQ names things. */
export function serverGeneratedName(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url');
}
