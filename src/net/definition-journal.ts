// Durable definitions (vhosts, users, permissions, durable exchanges and queues, and bindings
// between durable ends) kept in shard 0's log, and rebuilt from it at start. Network thread
// only. Each change is one keyed record (a put, or a delete as value null); replies to clients
// wait until every change issued before them is durable, so a declare-ok means "on disk".

import type { FieldTable } from '../codec/index.js';
import type { DefinitionRecord } from '../shard/api.js';
import { assert } from '../util/index.js';
import type { Permission, User } from './access-control.js';
import { type Binding, type Exchange, type ExchangeType, QueueRecord } from './exchange.js';
import type { Policy } from './policies.js';
import type { ShardLink } from './shard-link.js';
import type { VhostLimits } from './vhost-limits.js';

export interface ExchangeDefinition {
  vhost: string;
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDefinition {
  vhost: string;
  name: string;
  queueId: number;
  shardIndex: number;
  autoDelete: boolean;
  arguments: FieldTable;
}

export interface BindingDefinition {
  vhost: string;
  source: string;
  destinationType: 'queue' | 'exchange';
  destination: string;
  routingKey: string;
  arguments: FieldTable;
}

const SEPARATOR = '\u0000';

export function isDurableBinding(binding: Binding): boolean {
  const destination = binding.destination;
  return (
    binding.source.isDurable &&
    destination.isDurable &&
    !(destination instanceof QueueRecord && destination.isExclusive)
  );
}

function bindingKey(binding: BindingDefinition): string {
  return [
    binding.vhost,
    binding.source,
    binding.destinationType,
    binding.destination,
    binding.routingKey,
    JSON.stringify(binding.arguments, (_key, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    ),
  ].join(SEPARATOR);
}

export function bindingDefinition(binding: Binding): BindingDefinition {
  const destination = binding.destination;
  return {
    vhost: binding.source.vhost,
    source: binding.source.name,
    destinationType: destination instanceof QueueRecord ? 'queue' : 'exchange',
    destination: destination.name,
    routingKey: binding.routingKey,
    arguments: binding.arguments,
  };
}

export class DefinitionJournal {
  private link: ShardLink | null = null;
  private issued = 0;
  private durable = 0;
  private readonly waiting: { target: number; callback: () => void }[] = [];
  /**
   * Off until shard 0's log is attached and the definitions it kept are rebuilt (they are
   * already there, so nothing is written twice).
   */
  isRecording = false;

  /** Shard 0's link: its log keeps the definitions. */
  attach(link: ShardLink): void {
    this.link = link;
  }

  /** Calls back once every change issued so far is durable (at once if there is none). */
  whenDurable(callback: () => void): void {
    if (this.durable >= this.issued) {
      callback();
      return;
    }
    this.waiting.push({ target: this.issued, callback });
  }

  whenDurablePromise(): Promise<void> {
    return new Promise((resolve) => this.whenDurable(resolve));
  }

  private put(kind: string, key: string, value: unknown): void {
    if (!this.isRecording) return;
    assert(this.link !== null, 'definition journal records before shard 0 runs');
    const number = ++this.issued;
    const record: DefinitionRecord = { kind, key, value };
    this.link.control(
      { op: 'definition.put', record },
      {
        onReply: () => {
          this.durable = number;
          while (this.waiting.length > 0 && this.waiting[0]!.target <= number)
            this.waiting.shift()!.callback();
        },
      },
    );
  }

  vhost(name: string, isPresent: boolean): void {
    this.put('vhost', name, isPresent ? { name } : null);
  }

  user(name: string, user: User | null): void {
    this.put('user', name, user);
  }

  permission(vhost: string, user: string, permission: Permission | null): void {
    this.put(
      'permission',
      vhost + SEPARATOR + user,
      permission === null ? null : { vhost, user, ...permission },
    );
  }

  exchange(exchange: Exchange, isPresent: boolean): void {
    if (!exchange.isDurable) return;
    const value: ExchangeDefinition = {
      vhost: exchange.vhost,
      name: exchange.name,
      type: exchange.type,
      durable: true,
      autoDelete: exchange.isAutoDelete,
      internal: exchange.isInternal,
      arguments: exchange.arguments,
    };
    this.put('exchange', exchange.vhost + SEPARATOR + exchange.name, isPresent ? value : null);
  }

  queue(queue: QueueRecord, isPresent: boolean): void {
    if (!queue.isDurable) return;
    const value: QueueDefinition = {
      vhost: queue.vhost,
      name: queue.name,
      queueId: queue.queueId,
      shardIndex: queue.shardIndex,
      autoDelete: queue.isAutoDelete,
      arguments: queue.arguments,
    };
    this.put('queue', queue.vhost + SEPARATOR + queue.name, isPresent ? value : null);
  }

  policy(policy: Policy, isPresent: boolean): void {
    this.put('policy', policy.vhost + SEPARATOR + policy.name, isPresent ? policy : null);
  }

  operatorPolicy(policy: Policy, isPresent: boolean): void {
    this.put('operator-policy', policy.vhost + SEPARATOR + policy.name, isPresent ? policy : null);
  }

  vhostLimits(vhost: string, limits: VhostLimits | null): void {
    this.put('vhost-limits', vhost, limits === null ? null : { vhost, limits });
  }

  binding(binding: Binding, isPresent: boolean): void {
    if (!isDurableBinding(binding)) return;
    const value = bindingDefinition(binding);
    this.put('binding', bindingKey(value), isPresent ? value : null);
  }
}
