// Smoke tests of the built warren-perf command against an in-process Warren: a short timed run
// with confirms and persistent messages, --messages runs with multi-ack and prefetch and with
// autoack, the progress line and the table, the queues it creates and removes (checked with
// amqplib), and the exit codes for bad flags and an unreachable broker.

import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PerfSummary } from '../../src/perf/report.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/perf/cli.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

interface LatencyJson {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

function expectOrderedPercentiles(latency: LatencyJson | null): void {
  expect(latency).not.toBeNull();
  const { p50Ms, p95Ms, p99Ms, p999Ms, maxMs } = latency!;
  expect(latency!.count).toBeGreaterThan(0);
  expect(p50Ms).toBeGreaterThanOrEqual(0);
  expect(p95Ms).toBeGreaterThanOrEqual(p50Ms);
  expect(p99Ms).toBeGreaterThanOrEqual(p95Ms);
  expect(p999Ms).toBeGreaterThanOrEqual(p99Ms);
  expect(maxMs).toBeGreaterThanOrEqual(p999Ms);
}

describe('warren-perf against Warren', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('runs producers and consumers for the duration and reports JSON', async () => {
    const result = await runCli([
      '--uri',
      broker.url,
      '--producers',
      '2',
      '--consumers',
      '2',
      '--duration',
      '2',
      '--json',
      '--confirm',
      '100',
      '--persistent',
      '--queues',
      '2',
      '--threads',
      '2',
    ]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as PerfSummary;
    expect(summary.tool).toBe('warren-perf');
    expect(summary.error).toBeNull();
    expect(summary.broker.product).toBe('Warren');
    expect(summary.options.uri).toContain('***');
    expect(summary.durationSeconds).toBeGreaterThan(1.5);
    expect(summary.durationSeconds).toBeLessThan(3);
    const { totals, rates } = summary;
    expect(totals.sent).toBeGreaterThan(0);
    expect(totals.nacked).toBe(0);
    expect(summary.isDrained).toBe(true);
    expect(totals.outstandingConfirms).toBe(0);
    expect(totals.confirmed).toBe(totals.sent);
    expect(totals.received).toBe(totals.confirmed);
    expect(rates.sentPerSecond).toBeGreaterThan(0);
    expect(rates.receivedPerSecond).toBeGreaterThan(0);
    expectOrderedPercentiles(summary.latency.confirm);
    expectOrderedPercentiles(summary.latency.endToEnd);
    expect(summary.latency.endToEnd?.count).toBe(totals.received);
    expect(summary.cpu.percentOfOneCore).toBeGreaterThan(0);
    expect(summary.cpu.cores).toBeGreaterThanOrEqual(1);
    expect(summary.cpu.clientThreadBusyPercent).toHaveLength(2);
    expect(summary.layout).toEqual({
      clientThreads: 2,
      producerThreads: 1,
      consumerThreads: 1,
      connections: 4,
    });
  });

  it('stops by itself once every --messages message is consumed, with each ack mode', async () => {
    const common = ['--uri', broker.url, '--producers', '2', '--consumers', '2', '--quiet'];
    const variants = [
      ['--messages', '1000', '--multi-ack', '10', '--prefetch', '50'],
      ['--messages', '1000', '--autoack', '--threads', '1'],
      ['--messages', '1000', '--confirm', '20', '--exchange', 'perf.test', '--type', 'topic'],
    ];
    for (const variant of variants) {
      const result = await runCli([...common, ...variant, '--json']);
      expect(result.code, `${variant.join(' ')}: ${result.stderr}`).toBe(0);
      const summary = JSON.parse(result.stdout) as PerfSummary;
      expect(summary.totals.sent).toBe(2000);
      expect(summary.totals.received).toBe(2000);
      expect(summary.isDrained).toBe(true);
      expectOrderedPercentiles(summary.latency.endToEnd);
    }
  });

  it('prints a progress line each second on stderr and a table on stdout', async () => {
    const result = await runCli([
      '--uri',
      broker.url,
      '--duration',
      '3',
      '--rate',
      '500',
      '--confirm',
      '10',
    ]);
    expect(result.code).toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    // A line printed before a slow client thread's first histogram shows "-" for latencies.
    const percentiles = String.raw`(p50 [\d.]+ ms p99 [\d.]+ ms|p50 - p99 -)`;
    const progress = new RegExp(
      String.raw`^time \d+s( draining)? \| sent [\d,]+/s \| confirmed [\d,]+/s \| received [\d,]+/s \| ` +
        String.raw`confirm ${percentiles} \| e2e ${percentiles} \| outstanding \d+$`,
    );
    for (const line of lines) expect(line).toMatch(progress);
    expect(lines[0]).toMatch(/^time 1s /);
    expect(lines.some((line) => /confirm p50 [\d.]+ ms p99 [\d.]+ ms/.test(line))).toBe(true);
    expect(result.stdout).toMatch(/^warren-perf: 1 producers, 1 consumers, 12 B messages/);
    expect(result.stdout).toMatch(/sent\s+[\d,]+\s+[\d,]+/);
    expect(result.stdout).toMatch(/end to end(\s+[\d.]+){5}\s+[\d,]+/);
    expect(result.stdout).toMatch(/generator CPU \d+% of one core/);
  });

  it('removes the queues it created and keeps those that were there before', async () => {
    const connection = await amqp.connect(broker.url);
    try {
      const channel = await connection.createChannel();
      await channel.assertQueue('perf-existing', { durable: false });
      const result = await runCli([
        '--uri',
        broker.url,
        '--queues',
        '2',
        '--queue',
        'perf-%d',
        '--messages',
        '100',
        '--quiet',
      ]);
      expect(result.code, result.stderr).toBe(0);
      const existing = await runCli([
        '--uri',
        broker.url,
        '--queue',
        'perf-existing',
        '--messages',
        '100',
        '--quiet',
      ]);
      expect(existing.code, existing.stderr).toBe(0);
      expect(await channel.checkQueue('perf-existing')).toMatchObject({ messageCount: 0 });
      const probe = await connection.createChannel();
      probe.on('error', () => {});
      await expect(probe.checkQueue('perf-1')).rejects.toThrow(/404/);
    } finally {
      await connection.close();
    }
  });

  it('exits 2 with a message for a bad flag', async () => {
    const unknown = await runCli(['--producer', '2']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/warren-perf: Unknown option '--producer'/);
    const contradiction = await runCli(['--autoack', '--multi-ack', '5']);
    expect(contradiction.code).toBe(2);
    expect(contradiction.stderr).toMatch(/--multi-ack/);
    expect(contradiction.stdout).toBe('');
  });

  it('exits 1 with a clear message when the broker cannot be reached', async () => {
    const port = await new Promise<number>((resolvePort) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() =>
          resolvePort(typeof address === 'object' && address !== null ? address.port : 0),
        );
      });
    });
    const result = await runCli(['--uri', `amqp://guest:guest@127.0.0.1:${port}`, '--json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ECONNREFUSED/);
    expect((JSON.parse(result.stdout) as { error: { code: string } }).error.code).toBe(
      'connect-failed',
    );
  });
});
