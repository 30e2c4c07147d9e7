// Unit tests for warren-perf's output: the progress line shows only what the run does, the
// table shows totals, rates, percentiles and CPU, and numbers are formatted for people.

import { describe, expect, it } from 'vitest';
import { parsePerfOptions } from './options.js';
import {
  formatCount,
  formatMs,
  formatProgressLine,
  formatSummaryTable,
  type PerfSummary,
} from './report.js';

const latency = {
  count: 1000,
  meanMs: 2,
  p50Ms: 1.9,
  p95Ms: 5,
  p99Ms: 8.1,
  p999Ms: 12.4,
  maxMs: 20.1,
};

describe('formatProgressLine', () => {
  it('shows rates, both latencies and outstanding confirms', () => {
    expect(
      formatProgressLine({
        elapsedSeconds: 3.02,
        sentPerSecond: 101_234,
        confirmedPerSecond: 100_980,
        receivedPerSecond: 99_870,
        confirm: latency,
        endToEnd: { ...latency, p50Ms: 2.3, p99Ms: 9.7 },
        outstandingConfirms: 512,
        isProducing: true,
        isConfirming: true,
        isConsuming: true,
        isDraining: false,
      }),
    ).toBe(
      'time 3s | sent 101,234/s | confirmed 100,980/s | received 99,870/s | ' +
        'confirm p50 1.90 ms p99 8.10 ms | e2e p50 2.30 ms p99 9.70 ms | outstanding 512',
    );
  });

  it('leaves out confirms without --confirm, and marks latencies not yet known', () => {
    const line = formatProgressLine({
      elapsedSeconds: 1,
      sentPerSecond: 10,
      confirmedPerSecond: 0,
      receivedPerSecond: 10,
      confirm: null,
      endToEnd: null,
      outstandingConfirms: 0,
      isProducing: true,
      isConfirming: false,
      isConsuming: true,
      isDraining: true,
    });
    expect(line).toBe('time 1s draining | sent 10/s | received 10/s | e2e p50 - p99 -');
  });
});

describe('formatSummaryTable', () => {
  it('lists totals, rates, percentiles and the generator CPU', () => {
    const summary: PerfSummary = {
      tool: 'warren-perf',
      broker: { uri: 'amqp://guest:***@127.0.0.1:5672', product: 'Warren', version: '0.1.0' },
      options: parsePerfOptions(['--confirm', '100', '--producers', '2']),
      layout: { clientThreads: 2, producerThreads: 1, consumerThreads: 1, connections: 3 },
      durationSeconds: 10,
      drainSeconds: 0.1,
      isDrained: true,
      totals: {
        sent: 1_000_000,
        confirmed: 1_000_000,
        nacked: 0,
        outstandingConfirms: 0,
        routed: 1_000_000,
        received: 999_990,
        foreign: 0,
      },
      rates: { sentPerSecond: 100_000, confirmedPerSecond: 100_000, receivedPerSecond: 99_999 },
      latency: { confirm: latency, endToEnd: latency },
      cpu: {
        percentOfOneCore: 87.4,
        userSeconds: 7.1,
        systemSeconds: 1.6,
        wallSeconds: 10,
        cores: 2,
        clientThreadBusyPercent: [45, 40],
      },
      error: null,
    };
    const table = formatSummaryTable(summary);
    expect(table).toContain('2 producers, 1 consumers, 12 B messages, 1 queue, 10.0 s');
    expect(table).toMatch(/sent\s+1,000,000\s+100,000/);
    expect(table).toMatch(/received\s+999,990\s+99,999/);
    expect(table).toMatch(/p50\s+p95\s+p99\s+p99.9\s+max/);
    expect(table).toMatch(/confirm\s+1.90\s+5.00\s+8.10\s+12.4\s+20.1\s+1,000/);
    expect(table).toContain('generator CPU 87% of one core');
    expect(table).toContain('client threads busy 45%, 40%');
    expect(table).not.toContain('not drained');
  });
});

describe('number formats', () => {
  it('groups thousands and keeps three significant digits of milliseconds', () => {
    expect(formatCount(1234567.4)).toBe('1,234,567');
    expect([0.0123, 1.234, 12.34, 123.4].map(formatMs)).toEqual(['0.012', '1.23', '12.3', '123']);
  });
});
