// Unit tests for the warren-perf command line: defaults, every flag's parsing, bounds, the
// contradictions it refuses with a UsageError, the queue names, and the password masking.

import { describe, expect, it } from 'vitest';
import { parseAmqpUri } from './amqp-uri.js';
import { UsageError } from './errors.js';
import {
  DEFAULT_URI,
  HelpRequested,
  parsePerfOptions,
  printableOptions,
  queueNameAt,
  USAGE,
} from './options.js';

function usageErrorOf(argv: string[]): string {
  try {
    parsePerfOptions(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('parsePerfOptions', () => {
  it('has PerfTest-like defaults: loopback, 1 producer, 1 consumer, 12 B, 10 s', () => {
    const options = parsePerfOptions([]);
    expect(options).toMatchObject({
      uri: DEFAULT_URI,
      producerCount: 1,
      consumerCount: 1,
      messageBytes: 12,
      ratePerSecond: 0,
      durationSeconds: 10,
      messagesPerProducer: 0,
      isPersistent: false,
      confirmWindow: 0,
      isAutoAck: false,
      multiAckEvery: 0,
      prefetchCount: 0,
      queueCount: 1,
      queueName: 'warren-perf',
      exchangeName: '',
      exchangeType: 'direct',
      routingKey: null,
      queueArguments: {},
      isJson: false,
    });
    expect(options.threadCount).toBeGreaterThanOrEqual(1);
    expect(new URL(options.uri).hostname).toBe('127.0.0.1');
  });

  it('parses every flag', () => {
    const options = parsePerfOptions([
      '--uri',
      'amqp://u:p@h:5999/v',
      '--producers',
      '3',
      '--consumers',
      '4',
      '--size',
      '1000',
      '--rate',
      '250.5',
      '--duration',
      '7',
      '--persistent',
      '--confirm',
      '64',
      '--multi-ack',
      '10',
      '--prefetch',
      '100',
      '--queues',
      '5',
      '--queue',
      'bench-%d',
      '--exchange',
      'x',
      '--type',
      'topic',
      '--routing-key',
      'a.b',
      '--durable',
      '--auto-delete',
      '--queue-args',
      '{"x-max-length":1000,"x-queue-mode":"lazy"}',
      '--connections',
      '4',
      '--threads',
      '3',
      '--seconds-warmup',
      '2',
      '--json',
      '--quiet',
      '--keep-queues',
    ]);
    expect(options).toMatchObject({
      uri: 'amqp://u:p@h:5999/v',
      producerCount: 3,
      consumerCount: 4,
      messageBytes: 1000,
      ratePerSecond: 250.5,
      durationSeconds: 7,
      isPersistent: true,
      confirmWindow: 64,
      multiAckEvery: 10,
      prefetchCount: 100,
      queueCount: 5,
      queueName: 'bench-%d',
      exchangeName: 'x',
      exchangeType: 'topic',
      routingKey: 'a.b',
      isDurable: true,
      isAutoDelete: true,
      queueArguments: { 'x-max-length': 1000, 'x-queue-mode': 'lazy' },
      connectionCount: 4,
      threadCount: 3,
      warmupSeconds: 2,
      isJson: true,
      isQuiet: true,
      isKeepQueues: true,
    });
  });

  it('with --messages, runs without a time limit unless --duration is given', () => {
    expect(parsePerfOptions(['--messages', '1000']).durationSeconds).toBe(0);
    expect(parsePerfOptions(['--messages', '1000', '--duration', '5']).durationSeconds).toBe(5);
    expect(usageErrorOf(['--duration', '0'])).toMatch(/--messages/);
  });

  it('refuses values that are not numbers or out of bounds', () => {
    expect(usageErrorOf(['--producers', 'two'])).toMatch(/--producers two is not a whole number/);
    expect(usageErrorOf(['--producers', '-1'])).toMatch(/--producers/);
    expect(usageErrorOf(['--size', '4'])).toMatch(/--size 4 is outside \[8, /);
    expect(usageErrorOf(['--confirm', '0'])).toMatch(/--confirm 0 is outside/);
    expect(usageErrorOf(['--prefetch', '70000'])).toMatch(/--prefetch/);
    expect(usageErrorOf(['--rate', '1e3'])).toMatch(/not a number/);
    expect(usageErrorOf(['--threads', '0'])).toMatch(/--threads/);
  });

  it('refuses unknown flags, positionals and missing values', () => {
    expect(usageErrorOf(['--bogus'])).toMatch(/bogus/);
    expect(usageErrorOf(['extra'])).toMatch(/extra/);
    expect(usageErrorOf(['--producers'])).toMatch(/producers/);
  });

  it('refuses contradictions', () => {
    expect(usageErrorOf(['--producers', '0', '--consumers', '0'])).toMatch(/nothing to run/);
    expect(usageErrorOf(['--producers', '0', '--messages', '10'])).toMatch(/--duration/);
    expect(usageErrorOf(['--autoack', '--multi-ack', '5'])).toMatch(/--autoack/);
    expect(usageErrorOf(['--prefetch', '10', '--multi-ack', '20'])).toMatch(/stall/);
    expect(usageErrorOf(['--type', 'fanout'])).toMatch(/--exchange/);
    expect(usageErrorOf(['--routing-key', 'k'])).toMatch(/--exchange/);
    expect(usageErrorOf(['--exchange', 'x', '--type', 'x-delayed'])).toMatch(/--type x-delayed/);
    expect(usageErrorOf(['--exclusive', '--consumers', '0'])).toMatch(/--exclusive/);
    expect(usageErrorOf(['--exclusive', '--consumers', '3', '--queues', '2'])).toMatch(
      /--exclusive/,
    );
    expect(usageErrorOf(['--connections', '2', '--channels-per-connection', '2'])).toMatch(
      /not both/,
    );
    expect(usageErrorOf(['--queue', 'a', '--queue-pattern', 'b'])).toMatch(/not both/);
    expect(usageErrorOf(['--seconds-warmup', '10', '--duration', '5'])).toMatch(/shorter/);
  });

  it('refuses bad --queue-args and bad URIs', () => {
    expect(usageErrorOf(['--queue-args', '{bad'])).toMatch(/not JSON/);
    expect(usageErrorOf(['--queue-args', '[1]'])).toMatch(/JSON object/);
    expect(usageErrorOf(['--uri', 'http://x'])).toMatch(/amqp:\/\//);
    expect(usageErrorOf(['--uri', 'amqps://x'])).toMatch(/TLS/);
    expect(usageErrorOf(['--uri', 'nonsense'])).toMatch(/not a URI/);
  });

  it('answers --help with HelpRequested; the usage lists the PerfTest flag names', () => {
    expect(() => parsePerfOptions(['--help'])).toThrow(HelpRequested);
    for (const flag of [
      '--uri',
      '--producers',
      '--consumers',
      '--size',
      '--rate',
      '--duration',
      '--persistent',
      '--confirm',
      '--multi-ack',
      '--prefetch',
      '--queues',
      '--json',
    ]) {
      expect(USAGE).toContain(`${flag} `);
    }
  });
});

describe('queueNameAt', () => {
  it('uses the name for one queue, numbers several, and fills %d', () => {
    expect(queueNameAt(parsePerfOptions([]), 0)).toBe('warren-perf');
    const several = parsePerfOptions(['--queues', '3']);
    expect([0, 1, 2].map((index) => queueNameAt(several, index))).toEqual([
      'warren-perf-1',
      'warren-perf-2',
      'warren-perf-3',
    ]);
    const pattern = parsePerfOptions(['--queues', '2', '--queue', 'q.%d.x']);
    expect(queueNameAt(pattern, 1)).toBe('q.2.x');
  });
});

describe('parseAmqpUri', () => {
  it('reads user, password, host, port and vhost, percent-decoded', () => {
    expect(parseAmqpUri('amqp://al%40ice:p%3Ass@broker.example:5999/my%2Fvhost')).toMatchObject({
      host: 'broker.example',
      port: 5999,
      username: 'al@ice',
      password: 'p:ss',
      vhost: 'my/vhost',
    });
  });

  it('defaults to guest/guest, port 5672 and vhost /', () => {
    expect(parseAmqpUri('amqp://localhost')).toMatchObject({
      host: 'localhost',
      port: 5672,
      username: 'guest',
      password: 'guest',
      vhost: '/',
    });
    expect(parseAmqpUri('amqp://h/').vhost).toBe('/');
    expect(parseAmqpUri('amqp://h/%2F').vhost).toBe('/');
    expect(parseAmqpUri('amqp://[::1]:5673').host).toBe('::1');
  });

  it('masks the password for printing', () => {
    const address = parseAmqpUri('amqp://user:secret@h:1/v');
    expect(address.displayUri).toBe('amqp://user:***@h:1/v');
    expect(printableOptions(parsePerfOptions(['--uri', 'amqp://user:secret@h'])).uri).not.toContain(
      'secret',
    );
  });

  it('refuses a vhost with an unescaped slash', () => {
    expect(() => parseAmqpUri('amqp://h/a/b')).toThrow(/%2F/);
  });
});
