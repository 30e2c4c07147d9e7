// Queues from birth to deletion: which shard holds each, creating it there, the checks of a
// redeclare and of the vhost's queue limit, deletion (unbinding, cancelling its consumers,
// dropping its messages in the shard), auto-delete after the last consumer, x-expires, and
// applying changed policies to existing queues. Network thread only.

import { type AmqpMethod, type FieldTable, fieldTablesEquivalent } from '../codec/index.js';
import type { QueueSpec } from '../shard/api.js';
import { type ConsumerRecord, QueueRecord } from './exchange.js';
import type { Logger } from './logger.js';
import type { PolicyStore } from './policy-store.js';
import { channelError, resourceName } from './protocol-errors.js';
import { checkQueueArgumentsEquivalent, validateQueueArguments } from './queue-arguments.js';
import type { ShardLink } from './shard-link.js';
import { effectiveLimit } from './vhost-limits.js';
import type { VirtualHost } from './vhost.js';

const RESOURCE_LOCKED = 405;
const PRECONDITION_FAILED = 406;

export interface QueueFlags {
  isDurable: boolean;
  isAutoDelete: boolean;
  /** The connection an exclusive queue belongs to, else 0. */
  ownerConnectionId: number;
}

/** queue.delete's if-empty and if-unused. */
export interface DeleteConditions {
  isIfEmpty: boolean;
  isIfUnused: boolean;
}

/** Gets an error text, or null and the number of messages the delete dropped. */
export type DeleteDone = (error: string | null, messageCount: number) => void;

export class QueueLifecycle {
  private links: readonly ShardLink[] = [];
  private readonly vhosts: ReadonlyMap<string, VirtualHost>;
  private readonly policies: PolicyStore;
  private readonly queueMaxPerVhost: number;
  private readonly logger: Logger;
  private readonly whenDefinitionsDurable: (callback: () => void) => void;
  /** An exclusive queue was deleted: its owner connection forgets it. */
  private readonly onExclusiveQueueDeleted: (queue: QueueRecord) => void;
  private nextQueueId = 1;
  /** Queues with x-expires, checked by one timer armed for the soonest deadline. */
  private readonly expiringQueues = new Set<QueueRecord>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiryAtMs = Infinity;
  private isStopped = false;

  constructor(
    vhosts: ReadonlyMap<string, VirtualHost>,
    policies: PolicyStore,
    queueMaxPerVhost: number,
    logger: Logger,
    whenDefinitionsDurable: (callback: () => void) => void,
    onExclusiveQueueDeleted: (queue: QueueRecord) => void,
  ) {
    this.whenDefinitionsDurable = whenDefinitionsDurable;
    this.vhosts = vhosts;
    this.policies = policies;
    this.queueMaxPerVhost = queueMaxPerVhost;
    this.logger = logger;
    this.onExclusiveQueueDeleted = onExclusiveQueueDeleted;
  }

  /** The shard links, once the shards run. */
  attach(links: readonly ShardLink[]): void {
    this.links = links;
  }

  /** Stops the expiry timer; nothing expires after this. */
  stop(): void {
    this.isStopped = true;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.expiringQueues.clear();
  }

  /** Which shard owns a queue: a stable hash of vhost and name. */
  shardIndexFor(vhost: string, name: string): number {
    let hash = 0x811c9dc5;
    const key = `${vhost}\u0000${name}`;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.links.length;
  }

  /**
   * Creates a queue in its shard and records it; the caller has checked it does not exist. A
   * queue restored from the log keeps its id and shard.
   */
  createQueue(
    vhost: VirtualHost,
    name: string,
    flags: QueueFlags,
    args: FieldTable,
    restored: { queueId: number; shardIndex: number } | null = null,
  ): QueueRecord {
    if (restored === null) validateQueueArguments(args, name, vhost.name);
    else this.nextQueueId = Math.max(this.nextQueueId, restored.queueId + 1);
    const queue = new QueueRecord(
      restored?.queueId ?? this.nextQueueId++,
      vhost.name,
      name,
      // A restored queue stays where its messages are, whatever the hash says today.
      restored?.shardIndex ?? this.shardIndexFor(vhost.name, name),
      // RabbitMQ ignores durable for exclusive queues: they die with their connection anyway.
      { ...flags, isDurable: flags.isDurable && flags.ownerConnectionId === 0 },
      args,
    );
    queue.setEffectiveArguments(this.policies.queueArguments(vhost.name, name, args));
    vhost.addQueue(queue);
    if (queue.expiresMs > 0) {
      this.expiringQueues.add(queue);
      this.touchQueue(queue);
    }
    const spec: QueueSpec = {
      queueId: queue.queueId,
      vhost: vhost.name,
      name,
      isDurable: queue.isDurable,
      isAutoDelete: queue.isAutoDelete,
      isExclusive: queue.isExclusive,
      arguments: queue.effectiveArguments as Record<string, unknown>,
    };
    this.links[queue.shardIndex]!.control({ op: 'queue.create', queue: spec }, null);
    return queue;
  }

  /**
   * queue.declare past the vhost's queue limit (its max-queues or --max-queues-per-vhost, the
   * lower) fails with 406 and RabbitMQ's text.
   */
  checkQueueLimit(vhost: VirtualHost, name: string): void {
    const queueMax = effectiveLimit(vhost.limits['max-queues'], this.queueMaxPerVhost);
    if (queueMax === null || vhost.queues.size < queueMax) return;
    throw channelError(
      PRECONDITION_FAILED,
      `cannot declare queue '${name}' in vhost '${vhost.name}': vhost queue limit (${queueMax}) is reached`,
      50,
      10,
    );
  }

  /** A redeclare must match the queue's exclusivity, flags and arguments (RabbitMQ's texts). */
  checkQueueEquivalent(
    existing: QueueRecord,
    method: Extract<AmqpMethod, { method: 'queue.declare' }>,
  ): void {
    const what = resourceName('queue', existing.name, existing.vhost);
    if (method.exclusive !== existing.isExclusive) {
      throw channelError(
        RESOURCE_LOCKED,
        `cannot obtain exclusive access to locked ${what}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
        50,
        10,
      );
    }
    const durable = method.durable && !method.exclusive;
    if (durable !== existing.isDurable) {
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg 'durable' for ${what}: received '${durable}' but current is '${existing.isDurable}'`,
        50,
        10,
      );
    }
    if (method.autoDelete !== existing.isAutoDelete) {
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg 'auto_delete' for ${what}: received '${method.autoDelete}' but current is '${existing.isAutoDelete}'`,
        50,
        10,
      );
    }
    checkQueueArgumentsEquivalent(
      method.arguments,
      existing.arguments,
      existing.name,
      existing.vhost,
    );
  }

  /**
   * Deletes a queue: unbinds it, ends its consumers, and drops its messages in the shard. With
   * a condition the shard decides, and nothing changes if it refuses. Once the deletion is
   * durable, `done` gets the number of messages deleted (or an error text), and then clients
   * that asked hear basic.cancel for its consumers: the deleting channel's queue.delete-ok and
   * those cancels leave in the same write, as a client may close as soon as it sees the cancel.
   */
  deleteQueue(
    queue: QueueRecord,
    conditions: DeleteConditions | null,
    done: DeleteDone | null,
  ): void {
    const isConditional = conditions !== null && (conditions.isIfEmpty || conditions.isIfUnused);
    if (queue.isDeleted) {
      done?.(null, 0);
      return;
    }
    const cancelled: ConsumerRecord[] = [];
    const forget = () => {
      this.vhosts.get(queue.vhost)?.removeQueue(queue);
      for (const consumer of [...queue.consumers]) {
        queue.consumers.delete(consumer);
        consumer.cancelFromServer();
        cancelled.push(consumer);
      }
      if (queue.isExclusive) this.onExclusiveQueueDeleted(queue);
    };
    if (!isConditional) forget();
    this.links[queue.shardIndex]!.control(
      {
        op: 'queue.delete',
        queueId: queue.queueId,
        isIfEmpty: conditions?.isIfEmpty ?? false,
        isIfUnused: conditions?.isIfUnused ?? false,
      },
      {
        onReply: (replyCode, value, replyText) => {
          if (replyCode !== 0) {
            done?.(replyText, 0);
            return;
          }
          if (isConditional) forget();
          this.whenDefinitionsDurable(() => {
            done?.(null, value);
            for (const consumer of cancelled) consumer.sendServerCancel();
          });
        },
      },
    );
  }

  /** A consumer left its queue (cancel or channel close): auto-delete the queue if it was the last. */
  detachConsumer(consumer: ConsumerRecord): void {
    const queue = consumer.queue;
    queue.consumers.delete(consumer);
    if (queue.consumers.size === 0) this.touchQueue(queue);
    if (
      queue.isAutoDelete &&
      queue.hasHadConsumer &&
      queue.consumers.size === 0 &&
      !queue.isDeleted
    ) {
      this.deleteQueue(queue, null, null);
    }
  }

  /**
   * A queue was used (declared, consumed from, fetched from, or left by its last consumer): its
   * x-expires lease starts again. RabbitMQ's "unused" means no consumers, no basic.get and no
   * redeclare for the whole x-expires period.
   */
  touchQueue(queue: QueueRecord): void {
    if (queue.expiresMs === 0) return;
    queue.lastUsedMs = Date.now();
    this.armExpiry();
  }

  /**
   * A vhost's policies changed: every queue whose effective arguments differ now gets them (its
   * shard rebuilds TTL, limits and dead-lettering), and every exchange its alternate-exchange.
   */
  applyPolicies(vhostName: string): void {
    const vhost = this.vhosts.get(vhostName);
    if (vhost === undefined) return;
    for (const exchange of vhost.exchanges.values()) this.policies.applyExchangePolicy(exchange);
    for (const queue of vhost.queues.values()) {
      const effective = this.policies.queueArguments(vhostName, queue.name, queue.arguments);
      if (fieldTablesEquivalent(effective, queue.effectiveArguments)) continue;
      queue.setEffectiveArguments(effective);
      if (queue.expiresMs > 0 && !this.expiringQueues.has(queue)) {
        this.expiringQueues.add(queue);
        this.touchQueue(queue);
      }
      this.armExpiry();
      this.links[queue.shardIndex]!.control(
        {
          op: 'queue.arguments',
          queueId: queue.queueId,
          arguments: effective as Record<string, unknown>,
        },
        null,
      );
    }
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
  }

  private armExpiry(): void {
    let atMs = Infinity;
    for (const queue of this.expiringQueues) {
      if (queue.consumers.size > 0) continue;
      atMs = Math.min(atMs, queue.lastUsedMs + queue.expiresMs);
    }
    if (atMs === this.expiryAtMs) return;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.expiryAtMs = atMs;
    if (atMs === Infinity || this.isStopped) return;
    this.expiryTimer = setTimeout(() => this.expireQueues(), Math.max(0, atMs - Date.now()));
    this.expiryTimer.unref();
  }

  private expireQueues(): void {
    this.expiryTimer = null;
    this.expiryAtMs = Infinity;
    const nowMs = Date.now();
    for (const queue of [...this.expiringQueues]) {
      if (queue.isDeleted) {
        this.expiringQueues.delete(queue);
        continue;
      }
      if (queue.consumers.size > 0 || queue.lastUsedMs + queue.expiresMs > nowMs) continue;
      this.expiringQueues.delete(queue);
      this.logger.debug({ queue: queue.name, vhost: queue.vhost }, 'queue expired (x-expires)');
      this.deleteQueue(queue, null, null);
    }
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
    this.armExpiry();
  }
}
