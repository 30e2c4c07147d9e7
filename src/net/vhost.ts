// A virtual host's topology: its exchanges, queue records and bindings, with the checks
// RabbitMQ makes on declare, bind and delete. Network thread only. Queue messages are not
// here: this file knows which shard holds a queue, not what is in it.

import type { FieldTable } from '../codec/index.js';
import { fieldTablesEquivalent } from '../codec/index.js';
import { Binding, Exchange, type ExchangeType, QueueRecord } from './exchange.js';
import { channelError, resourceName } from './protocol-errors.js';
import type { VhostLimits } from './vhost-limits.js';

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;

export interface ExchangeFlags {
  isDurable: boolean;
  isAutoDelete: boolean;
  isInternal: boolean;
}

/** The exchanges every vhost has, as RabbitMQ predeclares them. */
const PREDECLARED: [string, ExchangeType, boolean][] = [
  ['', 'direct', false],
  ['amq.direct', 'direct', false],
  ['amq.fanout', 'fanout', false],
  ['amq.topic', 'topic', false],
  ['amq.headers', 'headers', false],
  ['amq.match', 'headers', false],
  ['amq.rabbitmq.trace', 'topic', true],
];

/** Told of every topology change, so durable ones can be written down. */
export interface TopologyObserver {
  exchangeChanged(exchange: Exchange, isPresent: boolean): void;
  queueChanged(queue: QueueRecord, isPresent: boolean): void;
  bindingChanged(binding: Binding, isPresent: boolean): void;
}

export class VirtualHost {
  readonly name: string;
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, QueueRecord>();
  readonly observer: TopologyObserver | null;
  /** max-connections and max-queues, set through the broker so they are journaled. */
  limits: VhostLimits = {};
  /** Connections past connection.open-ok to this vhost and not yet closed. */
  openConnectionCount = 0;

  constructor(name: string, observer: TopologyObserver | null = null) {
    this.observer = observer;
    this.name = name;
    for (const [exchangeName, type, isInternal] of PREDECLARED) {
      this.exchanges.set(
        exchangeName,
        new Exchange(
          name,
          exchangeName,
          type,
          { isDurable: true, isAutoDelete: false, isInternal },
          {},
        ),
      );
    }
  }

  exchangeOrThrow(name: string): Exchange {
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) {
      throw channelError(NOT_FOUND, `no ${resourceName('exchange', name, this.name)}`);
    }
    return exchange;
  }

  queueOrThrow(name: string): QueueRecord {
    const queue = this.queues.get(name);
    if (queue === undefined)
      throw channelError(NOT_FOUND, `no ${resourceName('queue', name, this.name)}`);
    return queue;
  }

  /** exchange.declare (not passive): creates or checks equivalence with the existing one. */
  declareExchange(
    name: string,
    type: ExchangeType,
    flags: ExchangeFlags,
    args: FieldTable,
  ): Exchange {
    const existing = this.exchanges.get(name);
    if (existing !== undefined) {
      this.checkExchangeEquivalent(existing, type, flags, args);
      return existing;
    }
    if (name.startsWith('amq.')) {
      throw channelError(
        ACCESS_REFUSED,
        `exchange name '${name}' contains reserved prefix 'amq.*'`,
      );
    }
    const exchange = new Exchange(this.name, name, type, flags, args);
    this.exchanges.set(name, exchange);
    this.observer?.exchangeChanged(exchange, true);
    return exchange;
  }

  private checkExchangeEquivalent(
    existing: Exchange,
    type: ExchangeType,
    flags: ExchangeFlags,
    args: FieldTable,
  ): void {
    const what = resourceName('exchange', existing.name, this.name);
    const check = (arg: string, received: unknown, current: unknown) => {
      if (received === current) return;
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg '${arg}' for ${what}: received '${String(received)}' but current is '${String(current)}'`,
      );
    };
    check('type', type, existing.type);
    check('durable', flags.isDurable, existing.isDurable);
    check('auto_delete', flags.isAutoDelete, existing.isAutoDelete);
    check('internal', flags.isInternal, existing.isInternal);
    // RabbitMQ compares only alternate-exchange among exchange arguments.
    const received = args['alternate-exchange'];
    const current = existing.arguments['alternate-exchange'];
    if (
      !(received === undefined && current === undefined) &&
      !(
        received !== undefined &&
        current !== undefined &&
        fieldTablesEquivalent({ v: received }, { v: current })
      )
    ) {
      const describe = (value: unknown) =>
        value === undefined ? 'none' : `the value '${String(value)}' of type 'longstr'`;
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg 'alternate-exchange' for ${what}: received ${describe(received)} but current is ${describe(current)}`,
      );
    }
  }

  /** exchange.delete; deleting a missing exchange is fine (RabbitMQ 3.x is idempotent). */
  deleteExchange(name: string, isIfUnused: boolean): void {
    if (name === '') {
      throw channelError(ACCESS_REFUSED, 'operation not permitted on the default exchange');
    }
    if (name.startsWith('amq.')) {
      throw channelError(
        ACCESS_REFUSED,
        `deletion of system ${resourceName('exchange', name, this.name)} not allowed`,
      );
    }
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) return;
    if (isIfUnused && exchange.outgoing.size > 0) {
      throw channelError(
        PRECONDITION_FAILED,
        `${resourceName('exchange', name, this.name)} in use`,
      );
    }
    this.removeExchange(exchange);
  }

  private removeExchange(exchange: Exchange): void {
    exchange.isDeleted = true;
    this.exchanges.delete(exchange.name);
    for (const binding of [...exchange.outgoing]) this.detach(binding, false);
    for (const binding of [...exchange.incoming]) this.detach(binding, true);
    this.observer?.exchangeChanged(exchange, false);
  }

  /** Adds a binding; binding the same thing twice is a no-op. Returns whether it was new. */
  bind(
    source: Exchange,
    destination: QueueRecord | Exchange,
    routingKey: string,
    args: FieldTable,
  ): boolean {
    if (source.name === '') {
      throw channelError(ACCESS_REFUSED, `operation not permitted on the default exchange`);
    }
    if (source.findBinding(destination, routingKey, args) !== null) return false;
    const binding = source.makeBinding(destination, routingKey, args);
    if (typeof binding === 'string') throw channelError(PRECONDITION_FAILED, binding);
    source.outgoing.add(binding);
    source.index.add(binding);
    if (destination instanceof QueueRecord) destination.bindings.add(binding);
    else destination.incoming.add(binding);
    this.observer?.bindingChanged(binding, true);
    return true;
  }

  /** Removes a binding; a missing one is fine (RabbitMQ 3.x is idempotent here). */
  unbind(
    source: Exchange,
    destination: QueueRecord | Exchange,
    routingKey: string,
    args: FieldTable,
  ): void {
    if (source.name === '') {
      throw channelError(ACCESS_REFUSED, `operation not permitted on the default exchange`);
    }
    const binding = source.findBinding(destination, routingKey, args);
    if (binding !== null) this.detach(binding, true);
  }

  /** Unlinks a binding from both ends; may auto-delete its source exchange. */
  private detach(binding: Binding, mayAutoDeleteSource: boolean): void {
    const source = binding.source;
    source.outgoing.delete(binding);
    source.index.remove(binding);
    const destination = binding.destination;
    if (destination instanceof QueueRecord) destination.bindings.delete(binding);
    else destination.incoming.delete(binding);
    this.observer?.bindingChanged(binding, false);
    if (
      mayAutoDeleteSource &&
      source.isAutoDelete &&
      source.outgoing.size === 0 &&
      !source.isDeleted
    ) {
      this.removeExchange(source);
    }
  }

  addQueue(queue: QueueRecord): void {
    this.queues.set(queue.name, queue);
    this.observer?.queueChanged(queue, true);
  }

  /** Forgets a queue and its bindings (the caller deletes its messages in the shard). */
  removeQueue(queue: QueueRecord): void {
    if (queue.isDeleted) return;
    queue.isDeleted = true;
    this.queues.delete(queue.name);
    for (const binding of [...queue.bindings]) this.detach(binding, true);
    this.observer?.queueChanged(queue, false);
  }
}
