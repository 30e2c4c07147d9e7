// Unit tests for the run planner: queues and bindings per exchange type, what each producer
// targets and how many copies a publish makes, which queues each consumer drains, how clients
// spread over threads and connections, and the deliveries a --messages run must see.

import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { parsePerfOptions } from './options.js';
import { planRun, ROUTING_HEADER, spread } from './plan.js';

const plan = (...argv: string[]) => planRun(parsePerfOptions(argv));

describe('spread', () => {
  it('gives each client one item when clients outnumber items, else every n-th item', () => {
    expect([0, 1, 2, 3].map((index) => spread(index, 4, 2))).toEqual([[0], [1], [0], [1]]);
    expect([0, 1].map((index) => spread(index, 2, 5))).toEqual([
      [0, 2, 4],
      [1, 3],
    ]);
  });
});

describe('planRun', () => {
  it('default exchange: no bindings, each producer publishes to its queue by name', () => {
    const run = plan('--producers', '2', '--consumers', '2', '--queues', '2');
    expect(run.topology.exchange).toBeNull();
    expect(run.topology.queues).toEqual([
      { name: 'warren-perf-1', binding: null },
      { name: 'warren-perf-2', binding: null },
    ]);
    const producers = run.threads.flatMap((thread) =>
      thread.connections.flatMap((connection) => connection.producers),
    );
    expect(producers.map((producer) => producer.targets)).toEqual([
      [{ exchange: '', routingKey: 'warren-perf-1', headerValue: null, queueCopies: 1 }],
      [{ exchange: '', routingKey: 'warren-perf-2', headerValue: null, queueCopies: 1 }],
    ]);
  });

  it('fanout and a shared routing key reach every queue with one publish', () => {
    const fanout = plan('--exchange', 'f', '--type', 'fanout', '--queues', '3', '--messages', '10');
    expect(fanout.topology.exchange).toEqual({ name: 'f', type: 'fanout', isPassive: false });
    const producer = fanout.threads[0]!.connections[0]!.producers[0]!;
    expect(producer.targets).toEqual([
      { exchange: 'f', routingKey: '', headerValue: null, queueCopies: 3 },
    ]);
    expect(fanout.expectedReceivedCount).toBe(30);
    const shared = plan('--exchange', 'amq.direct', '--routing-key', 'k', '--queues', '2');
    expect(shared.topology.exchange?.isPassive).toBe(true);
    expect(shared.topology.queues.map((queue) => queue.binding?.routingKey)).toEqual(['k', 'k']);
  });

  it('headers exchanges bind on a header and publish it', () => {
    const run = plan('--exchange', 'h', '--type', 'headers', '--queues', '2', '--producers', '2');
    expect(run.topology.queues[1]!.binding).toEqual({
      routingKey: '',
      arguments: { 'x-match': 'all', [ROUTING_HEADER]: 'warren-perf-2' },
    });
    const targets = run.threads[0]!.connections.flatMap((connection) =>
      connection.producers.flatMap((producer) => producer.targets),
    );
    expect(targets.map((target) => target.headerValue)).toEqual(['warren-perf-1', 'warren-perf-2']);
  });

  it('a producer with fewer producers than queues takes turns over its queues', () => {
    const run = plan('--producers', '1', '--queues', '3', '--messages', '10', '--consumers', '3');
    const producer = run.threads[0]!.connections[0]!.producers[0]!;
    expect(producer.targets.map((target) => target.routingKey)).toEqual([
      'warren-perf-1',
      'warren-perf-2',
      'warren-perf-3',
    ]);
    expect(run.expectedReceivedCount).toBe(10);
  });

  it('a consumer with fewer consumers than queues drains several', () => {
    const run = plan('--consumers', '2', '--queues', '3');
    const consumers = run.threads.flatMap((thread) =>
      thread.connections.flatMap((connection) => connection.consumers),
    );
    expect(consumers.map((consumer) => consumer.queueNames)).toEqual([
      ['warren-perf-1', 'warren-perf-3'],
      ['warren-perf-2'],
    ]);
    expect(consumers.every((consumer) => consumer.declaredQueues.length === 0)).toBe(true);
  });

  it('exclusive queues are declared by their consumers', () => {
    const run = plan('--exclusive', '--consumers', '2', '--queues', '2');
    expect(run.topology.isDeclaredByConsumers).toBe(true);
    const consumers = run.threads.flatMap((thread) =>
      thread.connections.flatMap((connection) => connection.consumers),
    );
    expect(consumers.map((consumer) => consumer.declaredQueues.map((queue) => queue.name))).toEqual(
      [['warren-perf-1'], ['warren-perf-2']],
    );
  });

  it('puts producers and consumers on their own threads, one connection each by default', () => {
    const run = plan('--producers', '3', '--consumers', '2', '--threads', '4');
    expect(run.producerThreadCount).toBe(2);
    expect(run.consumerThreadCount).toBe(2);
    expect(run.threads).toHaveLength(4);
    expect(run.connectionCount).toBe(5);
    for (const thread of run.threads) {
      const roles = thread.connections.map((connection) =>
        connection.producers.length > 0 ? 'p' : 'c',
      );
      expect(new Set(roles).size).toBe(1);
    }
  });

  it('one thread runs both roles; --producer-threads and --consumer-threads are obeyed', () => {
    const shared = plan('--producers', '2', '--consumers', '2', '--threads', '1');
    expect(shared.threads).toHaveLength(1);
    expect(shared.connectionCount).toBe(4);
    const split = plan(
      '--producers',
      '4',
      '--consumers',
      '4',
      '--producer-threads',
      '3',
      '--consumer-threads',
      '1',
    );
    expect(split.producerThreadCount).toBe(3);
    expect(split.consumerThreadCount).toBe(1);
  });

  it('groups channels per connection, or fits --connections', () => {
    const grouped = plan(
      '--producers',
      '5',
      '--consumers',
      '0',
      '--threads',
      '1',
      '--channels-per-connection',
      '2',
    );
    expect(
      grouped.threads[0]!.connections.map((connection) => connection.producers.length),
    ).toEqual([2, 2, 1]);
    const fitted = plan(
      '--producers',
      '10',
      '--consumers',
      '10',
      '--threads',
      '2',
      '--connections',
      '4',
    );
    expect(fitted.connectionCount).toBeLessThanOrEqual(4);
    expect(fitted.threads.flatMap((thread) => thread.connections)).toHaveLength(4);
    expect(() =>
      plan('--producers', '2', '--consumers', '2', '--threads', '2', '--connections', '1'),
    ).toThrow(UsageError);
  });
});
