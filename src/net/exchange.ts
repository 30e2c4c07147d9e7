// Exchanges, queues as the network thread records them, and the bindings between them, with
// one binding index per exchange type. Network thread only. Routing itself is in router.ts.

import type { FieldTable } from '../codec/index.js';
import { fieldTablesEquivalent } from '../codec/index.js';
import { compileHeadersPattern, type HeadersPattern, headersMatch } from './headers-match.js';
import { type MatchCollector, TopicTrie } from './topic-trie.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

export function isExchangeType(type: string): type is ExchangeType {
  return type === 'direct' || type === 'fanout' || type === 'topic' || type === 'headers';
}

/** A consumer as the network thread knows it. */
export interface ConsumerRecord {
  consumerId: number;
  tag: string;
  queue: QueueRecord;
  isExclusive: boolean;
  isNoAck: boolean;
  /** Its queue is gone: the consumer ends at once (no more deliveries, its tag is free). */
  cancelFromServer(): void;
  /**
   * After cancelFromServer, once the deletion is durable: its channel sends basic.cancel if the
   * client asked to be told (consumer_cancel_notify).
   */
  sendServerCancel(): void;
}

/** A queue's metadata; its messages live in shard `shardIndex`. */
export class QueueRecord {
  readonly queueId: number;
  readonly vhost: string;
  readonly name: string;
  readonly shardIndex: number;
  readonly isDurable: boolean;
  readonly isAutoDelete: boolean;
  /** The id of the connection an exclusive queue belongs to, else 0. */
  readonly ownerConnectionId: number;
  readonly arguments: FieldTable;
  readonly consumers = new Set<ConsumerRecord>();
  readonly bindings = new Set<Binding>();
  hasHadConsumer = false;
  isDeleted = false;
  /** The arguments its shard applies: its own with the policy that matches it combined in. */
  effectiveArguments: FieldTable;
  /** x-expires (argument or policy): delete the queue after this long unused; 0 when none. */
  expiresMs = 0;
  /** When it was last used (declared, consumed from, fetched from, left by its last consumer). */
  lastUsedMs = 0;
  /** The routing pass that last added this queue, to count it once per publish. */
  routeEpoch = 0;

  constructor(
    queueId: number,
    vhost: string,
    name: string,
    shardIndex: number,
    flags: { isDurable: boolean; isAutoDelete: boolean; ownerConnectionId: number },
    args: FieldTable,
  ) {
    this.queueId = queueId;
    this.vhost = vhost;
    this.name = name;
    this.shardIndex = shardIndex;
    this.isDurable = flags.isDurable;
    this.isAutoDelete = flags.isAutoDelete;
    this.ownerConnectionId = flags.ownerConnectionId;
    this.arguments = args;
    this.effectiveArguments = args;
    this.setEffectiveArguments(args);
  }

  /** Takes the arguments its policy makes effective (x-expires is the network thread's). */
  setEffectiveArguments(args: FieldTable): void {
    this.effectiveArguments = args;
    const expires = args['x-expires'];
    this.expiresMs =
      typeof expires === 'number' || typeof expires === 'bigint' ? Number(expires) : 0;
  }

  get isExclusive(): boolean {
    return this.ownerConnectionId !== 0;
  }

  get hasExclusiveConsumer(): boolean {
    for (const consumer of this.consumers) if (consumer.isExclusive) return true;
    return false;
  }
}

/** The shards holding any of `queues`, a bit per shard index. */
export function shardMaskOf(queues: readonly QueueRecord[]): number {
  let mask = 0;
  for (let i = 0; i < queues.length; i++) mask |= 1 << queues[i]!.shardIndex;
  return mask;
}

export class Binding {
  readonly source: Exchange;
  readonly destination: QueueRecord | Exchange;
  readonly routingKey: string;
  readonly arguments: FieldTable;
  readonly headersPattern: HeadersPattern | null;

  constructor(
    source: Exchange,
    destination: QueueRecord | Exchange,
    routingKey: string,
    args: FieldTable,
    headersPattern: HeadersPattern | null,
  ) {
    this.source = source;
    this.destination = destination;
    this.routingKey = routingKey;
    this.arguments = args;
    this.headersPattern = headersPattern;
  }

  sameAs(destination: QueueRecord | Exchange, routingKey: string, args: FieldTable): boolean {
    return (
      this.destination === destination &&
      this.routingKey === routingKey &&
      fieldTablesEquivalent(this.arguments, args)
    );
  }
}

/** Gives a publish's headers table, decoding it only when a headers exchange asks. */
export interface HeadersSource {
  headers(): FieldTable | null;
}

/** How one exchange type finds the bindings a publish matches. */
export interface BindingIndex {
  add(binding: Binding): void;
  remove(binding: Binding): void;
  /** Sends every matching binding to the collector; headers are decoded only if needed. */
  match(routingKey: string, headers: HeadersSource, collector: MatchCollector<Binding>): void;
}

class DirectIndex implements BindingIndex {
  private readonly byKey = new Map<string, Binding[]>();

  add(binding: Binding): void {
    const list = this.byKey.get(binding.routingKey);
    if (list === undefined) this.byKey.set(binding.routingKey, [binding]);
    else list.push(binding);
  }

  remove(binding: Binding): void {
    const list = this.byKey.get(binding.routingKey);
    if (list === undefined) return;
    const at = list.indexOf(binding);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byKey.delete(binding.routingKey);
  }

  match(routingKey: string, _headers: HeadersSource, collector: MatchCollector<Binding>): void {
    const list = this.byKey.get(routingKey);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) collector.add(list[i]!);
  }
}

class FanoutIndex implements BindingIndex {
  protected readonly all: Binding[] = [];

  add(binding: Binding): void {
    this.all.push(binding);
  }

  remove(binding: Binding): void {
    const at = this.all.indexOf(binding);
    if (at >= 0) this.all.splice(at, 1);
  }

  match(_routingKey: string, _headers: HeadersSource, collector: MatchCollector<Binding>): void {
    const all = this.all;
    for (let i = 0; i < all.length; i++) collector.add(all[i]!);
  }
}

/** Most-recent routing keys and what they matched; cleared on every binding change. */
const TOPIC_CACHE_KEYS_MAX = 4096;

class TopicIndex implements BindingIndex {
  private readonly trie = new TopicTrie<Binding>();
  private readonly cache = new Map<string, Binding[]>();

  add(binding: Binding): void {
    this.trie.add(binding.routingKey, binding);
    this.cache.clear();
  }

  remove(binding: Binding): void {
    this.trie.remove(binding.routingKey, binding);
    this.cache.clear();
  }

  match(routingKey: string, _headers: HeadersSource, collector: MatchCollector<Binding>): void {
    let matched = this.cache.get(routingKey);
    if (matched === undefined) {
      // A miss walks the trie once; repeated keys (the common case) then cost one map lookup.
      const found: Binding[] = [];
      this.trie.match(routingKey, { add: (binding) => found.push(binding) });
      matched = found;
      if (this.cache.size >= TOPIC_CACHE_KEYS_MAX) this.cache.clear();
      this.cache.set(routingKey, matched);
    }
    for (let i = 0; i < matched.length; i++) collector.add(matched[i]!);
  }
}

/** Every binding is a candidate: the headers decide (decoded once per publish, if at all). */
class HeadersIndex extends FanoutIndex {
  override match(
    _routingKey: string,
    headers: HeadersSource,
    collector: MatchCollector<Binding>,
  ): void {
    if (this.all.length === 0) return;
    const table = headers.headers();
    for (const binding of this.all) {
      if (binding.headersPattern !== null && headersMatch(binding.headersPattern, table)) {
        collector.add(binding);
      }
    }
  }
}

export class Exchange {
  readonly vhost: string;
  readonly name: string;
  readonly type: ExchangeType;
  readonly isDurable: boolean;
  readonly isAutoDelete: boolean;
  readonly isInternal: boolean;
  readonly arguments: FieldTable;
  /** Bindings with this exchange as their source. */
  readonly outgoing = new Set<Binding>();
  /** Exchange-to-exchange bindings with this exchange as their destination. */
  readonly incoming = new Set<Binding>();
  readonly index: BindingIndex;
  isDeleted = false;
  /** The routing pass that last visited this exchange, to stop binding cycles. */
  routeEpoch = 0;
  /** alternate-exchange from the policy that matches this exchange, if any. */
  policyAlternateExchange: string | null = null;
  /** Messages published to it, and copies it routed to queues (management's publish_in/out). */
  publishInCount = 0;
  publishOutCount = 0;

  constructor(
    vhost: string,
    name: string,
    type: ExchangeType,
    flags: { isDurable: boolean; isAutoDelete: boolean; isInternal: boolean },
    args: FieldTable,
  ) {
    this.vhost = vhost;
    this.name = name;
    this.type = type;
    this.isDurable = flags.isDurable;
    this.isAutoDelete = flags.isAutoDelete;
    this.isInternal = flags.isInternal;
    this.arguments = args;
    this.index = createIndex(type);
  }

  /** The alternate exchange: the argument's, else the policy's (RabbitMQ's precedence). */
  get alternateExchange(): string | null {
    const value = this.arguments['alternate-exchange'];
    return typeof value === 'string' ? value : this.policyAlternateExchange;
  }

  /** Builds a binding from this exchange, or returns an error text for bad arguments. */
  makeBinding(
    destination: QueueRecord | Exchange,
    routingKey: string,
    args: FieldTable,
  ): Binding | string {
    let pattern: HeadersPattern | null = null;
    if (this.type === 'headers') {
      const compiled = compileHeadersPattern(args);
      if (typeof compiled === 'string') return compiled;
      pattern = compiled;
    }
    return new Binding(this, destination, routingKey, args, pattern);
  }

  findBinding(
    destination: QueueRecord | Exchange,
    routingKey: string,
    args: FieldTable,
  ): Binding | null {
    for (const binding of this.outgoing) {
      if (binding.sameAs(destination, routingKey, args)) return binding;
    }
    return null;
  }
}

function createIndex(type: ExchangeType): BindingIndex {
  switch (type) {
    case 'direct':
      return new DirectIndex();
    case 'fanout':
      return new FanoutIndex();
    case 'topic':
      return new TopicIndex();
    case 'headers':
      return new HeadersIndex();
  }
}
