// Routes a publish to the set of queues it reaches: through the exchange's bindings, onward
// through exchange-to-exchange bindings, and to an exchange's alternate exchange when that
// exchange alone matched nothing (RabbitMQ's rule). Each queue is counted once per publish and
// binding cycles stop, both by marking objects with the pass number instead of allocating sets.
// Network thread only; one Router is reused for every publish.

import type { FieldTable } from '../codec/index.js';
import { decodeProperties } from '../codec/index.js';
import { type Binding, type Exchange, type HeadersSource, QueueRecord } from './exchange.js';
import type { MatchCollector } from './topic-trie.js';
import type { VirtualHost } from './vhost.js';

export class Router implements MatchCollector<Binding>, HeadersSource {
  /** The queues the last route() reached; valid until the next call. */
  readonly queues: QueueRecord[] = [];
  private readonly exchangesToVisit: Exchange[] = [];
  private epoch = 0;
  private matchedCount = 0;
  private propertiesBytes: Buffer | null = null;
  private propertiesStart = 0;
  private propertiesEnd = 0;
  private decodedHeaders: FieldTable | null | undefined = undefined;

  /**
   * Routes one publish. `properties*` locate the raw content properties, decoded only if a
   * headers exchange needs them. `extraKeys` are sender-selected routing keys (CC and BCC):
   * every exchange on the way matches them too, and its alternate exchange is used only when
   * none of the keys matched, as RabbitMQ routes a message with several routing keys.
   */
  route(
    vhost: VirtualHost,
    exchange: Exchange,
    routingKey: string,
    propertiesBytes: Buffer,
    propertiesStart: number,
    propertiesEnd: number,
    extraKeys: readonly string[] | null = null,
  ): QueueRecord[] {
    this.epoch++;
    this.queues.length = 0;
    this.propertiesBytes = propertiesBytes;
    this.propertiesStart = propertiesStart;
    this.propertiesEnd = propertiesEnd;
    this.decodedHeaders = undefined;
    if (exchange.name === '') {
      // The default exchange binds every queue by its own name, implicitly.
      this.addQueueNamed(vhost, routingKey);
      if (extraKeys !== null) for (const key of extraKeys) this.addQueueNamed(vhost, key);
      return this.queues;
    }
    const toVisit = this.exchangesToVisit;
    // A route that threw half way (bad headers) must not leak exchanges into the next one.
    toVisit.length = 0;
    exchange.routeEpoch = this.epoch;
    toVisit.push(exchange);
    while (toVisit.length > 0) {
      const current = toVisit.pop()!;
      this.matchedCount = 0;
      current.index.match(routingKey, this, this);
      if (extraKeys !== null) for (const key of extraKeys) current.index.match(key, this, this);
      if (this.matchedCount === 0) {
        const alternateName = current.alternateExchange;
        const alternate = alternateName === null ? undefined : vhost.exchanges.get(alternateName);
        if (alternate !== undefined) this.visitExchange(alternate);
      }
    }
    this.propertiesBytes = null;
    return this.queues;
  }

  private addQueueNamed(vhost: VirtualHost, name: string): void {
    const queue = vhost.queues.get(name);
    if (queue === undefined || queue.routeEpoch === this.epoch) return;
    queue.routeEpoch = this.epoch;
    this.queues.push(queue);
  }

  /** MatchCollector: one matched binding. */
  add(binding: Binding): void {
    this.matchedCount++;
    const destination = binding.destination;
    if (destination instanceof QueueRecord) {
      if (destination.routeEpoch === this.epoch) return;
      destination.routeEpoch = this.epoch;
      this.queues.push(destination);
      return;
    }
    this.visitExchange(destination);
  }

  private visitExchange(exchange: Exchange): void {
    if (exchange.routeEpoch === this.epoch) return;
    exchange.routeEpoch = this.epoch;
    this.exchangesToVisit.push(exchange);
  }

  /** HeadersSource: the publish's headers table, decoded at most once per route(). */
  headers(): FieldTable | null {
    if (this.decodedHeaders === undefined) {
      const bytes = this.propertiesBytes;
      this.decodedHeaders =
        bytes === null
          ? null
          : (decodeProperties(bytes, this.propertiesStart, this.propertiesEnd).headers ?? null);
    }
    return this.decodedHeaders;
  }
}
