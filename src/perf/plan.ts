// Turns PerfOptions into a run plan: the topology (exchange, queues, bindings), what each
// producer publishes to, which queues each consumer drains, and how producers and consumers are
// spread over client threads and connections. Main thread; pure and deterministic, so tests can
// check it without a broker. The plan is plain data sent to each client thread as its task.

import type { FieldTable } from '../codec/index.js';
import { UsageError } from './errors.js';
import { queueNameAt, type ExchangeType, type PerfOptions } from './options.js';

/** The header a headers exchange routes on, when --type headers. */
export const ROUTING_HEADER = 'warren-perf-key';

export interface ExchangePlan {
  name: string;
  type: ExchangeType;
  /** amq.* exchanges exist already and may not be declared actively. */
  isPassive: boolean;
}

export interface QueuePlan {
  name: string;
  /** Binding to the exchange; null with the default exchange. */
  binding: { routingKey: string; arguments: FieldTable } | null;
}

export interface TopologyPlan {
  exchange: ExchangePlan | null;
  queues: QueuePlan[];
  /** Exclusive queues are declared by the consumer's own connection, others by the main thread. */
  isDeclaredByConsumers: boolean;
}

/** One routing choice of a producer; it publishes to its targets in turn. */
export interface TargetPlan {
  exchange: string;
  routingKey: string;
  /** Value of the ROUTING_HEADER header, or null for no headers. */
  headerValue: string | null;
  /** How many queues one publish reaches. */
  queueCopies: number;
}

export interface ProducerPlan {
  producerIndex: number;
  targets: TargetPlan[];
}

export interface ConsumerPlan {
  consumerIndex: number;
  queueNames: string[];
  /** Queues this consumer declares and binds before consuming (exclusive queues). */
  declaredQueues: QueuePlan[];
}

/** One connection: its producers take channels 1.., then its consumers. */
export interface ConnectionPlan {
  producers: ProducerPlan[];
  consumers: ConsumerPlan[];
}

export interface ThreadPlan {
  threadIndex: number;
  connections: ConnectionPlan[];
}

export interface RunPlan {
  topology: TopologyPlan;
  threads: ThreadPlan[];
  producerThreadCount: number;
  consumerThreadCount: number;
  connectionCount: number;
  /** Deliveries to expect when every producer sends --messages; 0 without --messages. */
  expectedReceivedCount: number;
}

export function planRun(options: PerfOptions): RunPlan {
  const topology = planTopology(options);
  const producers: ProducerPlan[] = [];
  for (let index = 0; index < options.producerCount; index++) {
    producers.push({ producerIndex: index, targets: planTargets(options, index) });
  }
  const consumers: ConsumerPlan[] = [];
  for (let index = 0; index < options.consumerCount; index++) {
    const queueIndexes = spread(index, options.consumerCount, options.queueCount);
    consumers.push({
      consumerIndex: index,
      queueNames: queueIndexes.map((queueIndex) => topology.queues[queueIndex]!.name),
      declaredQueues: topology.isDeclaredByConsumers
        ? queueIndexes.map((queueIndex) => topology.queues[queueIndex]!)
        : [],
    });
  }
  const { producerThreadCount, consumerThreadCount } = planThreadCounts(options);
  // Groups of clients that share a thread; producers and consumers never share a connection,
  // as RabbitMQ advises (flow control blocks a publishing connection, not a consuming one).
  const producerGroups = deal(producers, producerThreadCount);
  const consumerGroups = deal(consumers, consumerThreadCount);
  const threadGroups: { producers: ProducerPlan[]; consumers: ConsumerPlan[] }[] = [];
  // One client thread runs both roles; otherwise each thread runs one role only, so a busy
  // publisher never delays the timestamps a consumer takes.
  const isSharedThread =
    options.producerThreadCount === 0 &&
    options.consumerThreadCount === 0 &&
    options.threadCount === 1;
  if (isSharedThread) {
    threadGroups.push({ producers, consumers });
  } else {
    for (const group of producerGroups) threadGroups.push({ producers: group, consumers: [] });
    for (const group of consumerGroups) threadGroups.push({ producers: [], consumers: group });
  }
  const groupSizes: number[] = [];
  for (const group of threadGroups) {
    if (group.producers.length > 0) groupSizes.push(group.producers.length);
    if (group.consumers.length > 0) groupSizes.push(group.consumers.length);
  }
  const channelsPerConnection =
    options.connectionCount > 0
      ? channelsForConnections(groupSizes, options.connectionCount)
      : options.channelsPerConnection;
  let connectionCount = 0;
  const threads: ThreadPlan[] = threadGroups.map((group, threadIndex) => {
    const connections: ConnectionPlan[] = [];
    for (const chunk of chunks(group.producers, channelsPerConnection)) {
      connections.push({ producers: chunk, consumers: [] });
    }
    for (const chunk of chunks(group.consumers, channelsPerConnection)) {
      connections.push({ producers: [], consumers: chunk });
    }
    connectionCount += connections.length;
    return { threadIndex, connections };
  });
  return {
    topology,
    threads,
    producerThreadCount: isSharedThread ? Math.min(1, producers.length) : producerGroups.length,
    consumerThreadCount: isSharedThread ? Math.min(1, consumers.length) : consumerGroups.length,
    connectionCount,
    expectedReceivedCount: expectedReceived(options, producers),
  };
}

function planTopology(options: PerfOptions): TopologyPlan {
  const exchange: ExchangePlan | null =
    options.exchangeName === ''
      ? null
      : {
          name: options.exchangeName,
          type: options.exchangeType,
          isPassive: options.exchangeName.startsWith('amq.'),
        };
  const queues: QueuePlan[] = [];
  for (let index = 0; index < options.queueCount; index++) {
    const name = queueNameAt(options, index);
    const key = options.routingKey ?? (options.exchangeType === 'fanout' ? '' : name);
    let binding: QueuePlan['binding'] = null;
    if (exchange !== null) {
      binding =
        exchange.type === 'headers'
          ? { routingKey: '', arguments: { 'x-match': 'all', [ROUTING_HEADER]: key } }
          : { routingKey: key, arguments: {} };
    }
    queues.push({ name, binding });
  }
  return { exchange, queues, isDeclaredByConsumers: options.isExclusive };
}

/** What producer `index` publishes to, in turn. */
function planTargets(options: PerfOptions, index: number): TargetPlan[] {
  const exchange = options.exchangeName;
  const isEveryQueue =
    exchange !== '' && (options.exchangeType === 'fanout' || options.routingKey !== null);
  if (isEveryQueue) {
    // One key bound to every queue (or a fanout): each publish reaches them all.
    const key = options.routingKey ?? '';
    const isHeaders = options.exchangeType === 'headers';
    return [
      {
        exchange,
        routingKey: isHeaders ? '' : key,
        headerValue: isHeaders ? key : null,
        queueCopies: options.queueCount,
      },
    ];
  }
  return spread(index, options.producerCount, options.queueCount).map((queueIndex) => {
    const name = queueNameAt(options, queueIndex);
    const isHeaders = exchange !== '' && options.exchangeType === 'headers';
    return {
      exchange,
      routingKey: isHeaders ? '' : name,
      headerValue: isHeaders ? name : null,
      queueCopies: 1,
    };
  });
}

/**
 * Which of `itemCount` items client `index` of `clientCount` takes: one item each (shared
 * round-robin) when clients outnumber items, else every item whose index matches modulo.
 */
export function spread(index: number, clientCount: number, itemCount: number): number[] {
  if (clientCount >= itemCount) return [index % itemCount];
  const taken: number[] = [];
  for (let item = index; item < itemCount; item += clientCount) taken.push(item);
  return taken;
}

function planThreadCounts(options: PerfOptions): {
  producerThreadCount: number;
  consumerThreadCount: number;
} {
  const producers = options.producerCount;
  const consumers = options.consumerCount;
  if (options.producerThreadCount > 0 || options.consumerThreadCount > 0) {
    return {
      producerThreadCount:
        producers === 0 ? 0 : Math.min(producers, options.producerThreadCount || 1),
      consumerThreadCount:
        consumers === 0 ? 0 : Math.min(consumers, options.consumerThreadCount || 1),
    };
  }
  const threads = options.threadCount;
  if (producers === 0)
    return { producerThreadCount: 0, consumerThreadCount: Math.min(threads, consumers) };
  if (consumers === 0)
    return { producerThreadCount: Math.min(threads, producers), consumerThreadCount: 0 };
  if (threads === 1) return { producerThreadCount: 1, consumerThreadCount: 1 };
  const producerThreads = Math.min(producers, Math.ceil(threads / 2));
  return {
    producerThreadCount: producerThreads,
    consumerThreadCount: Math.min(consumers, threads - producerThreads),
  };
}

/** Deals `items` round-robin into `groupCount` non-empty groups. */
function deal<T>(items: T[], groupCount: number): T[][] {
  const groups: T[][] = [];
  for (let index = 0; index < Math.min(groupCount, items.length); index++) groups.push([]);
  items.forEach((item, index) => groups[index % groups.length]!.push(item));
  return groups;
}

function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < items.length; index += size)
    result.push(items.slice(index, index + size));
  return result;
}

/** The fewest channels per connection that fit every group into `connectionCount` connections. */
function channelsForConnections(groupSizes: number[], connectionCount: number): number {
  if (connectionCount < groupSizes.length) {
    throw new UsageError(
      `--connections ${connectionCount} is fewer than the ${groupSizes.length} client groups ` +
        '(producers and consumers of each client thread need their own connections); ' +
        'lower --threads or raise --connections',
    );
  }
  const largest = Math.max(...groupSizes);
  for (let channels = 1; channels < largest; channels++) {
    let needed = 0;
    for (const size of groupSizes) needed += Math.ceil(size / channels);
    if (needed <= connectionCount) return channels;
  }
  return Math.max(1, largest);
}

function expectedReceived(options: PerfOptions, producers: ProducerPlan[]): number {
  if (options.messagesPerProducer === 0 || options.consumerCount === 0) return 0;
  let total = 0;
  for (const producer of producers) {
    const targetCount = producer.targets.length;
    producer.targets.forEach((target, index) => {
      const published =
        Math.floor(options.messagesPerProducer / targetCount) +
        (index < options.messagesPerProducer % targetCount ? 1 : 0);
      total += published * target.queueCopies;
    });
  }
  return total;
}
