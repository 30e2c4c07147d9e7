// What warren-perf prints: the live progress line (stderr, once a second), the final human table
// (stdout) and the JSON summary (stdout with --json). Main thread; pure formatting of a
// PerfSummary, so tests can check the shapes without a broker.

import type { LatencySummary } from './latency.js';
import type { PerfOptions } from './options.js';

/** Everything a run measured. Rates are over the measured window; totals include the drain. */
export interface PerfSummary {
  tool: 'warren-perf';
  broker: { uri: string; product: string; version: string };
  options: PerfOptions;
  /** Client threads in all; one thread runs both roles when there is only one. */
  layout: {
    clientThreads: number;
    producerThreads: number;
    consumerThreads: number;
    connections: number;
  };
  /** Publishing time measured (after any warm-up). */
  durationSeconds: number;
  /** Time after publishing stopped, spent waiting for confirms and deliveries in flight. */
  drainSeconds: number;
  /** Whether every confirm and every routed delivery arrived before the drain timed out. */
  isDrained: boolean;
  totals: {
    sent: number;
    confirmed: number;
    nacked: number;
    outstandingConfirms: number;
    /** Deliveries the sent messages should make (copies per queue reached). */
    routed: number;
    received: number;
    /** Deliveries without a send time (messages that were in the queues before the run). */
    foreign: number;
  };
  rates: { sentPerSecond: number; confirmedPerSecond: number; receivedPerSecond: number };
  /** Milliseconds; null when nothing was measured (no confirms, no consumers). */
  latency: { confirm: LatencySummary | null; endToEnd: LatencySummary | null };
  cpu: {
    /** The whole generator process (every client thread and the main thread), user + system. */
    percentOfOneCore: number;
    userSeconds: number;
    systemSeconds: number;
    /** Wall time the CPU was measured over: from measuring start to stop. */
    wallSeconds: number;
    cores: number;
    /** Event-loop utilization of each client thread while measuring; near 100 = saturated. */
    clientThreadBusyPercent: number[];
  };
  error: null;
}

/** One second of the run, for the progress line. */
export interface ProgressSample {
  elapsedSeconds: number;
  sentPerSecond: number;
  confirmedPerSecond: number;
  receivedPerSecond: number;
  confirm: LatencySummary | null;
  endToEnd: LatencySummary | null;
  outstandingConfirms: number;
  isProducing: boolean;
  isConfirming: boolean;
  isConsuming: boolean;
  /** Publishing has stopped; confirms and deliveries in flight are still counted. */
  isDraining: boolean;
}

export function formatProgressLine(sample: ProgressSample): string {
  const parts = [
    `time ${Math.round(sample.elapsedSeconds)}s${sample.isDraining ? ' draining' : ''}`,
  ];
  if (sample.isProducing) parts.push(`sent ${formatCount(sample.sentPerSecond)}/s`);
  if (sample.isConfirming) parts.push(`confirmed ${formatCount(sample.confirmedPerSecond)}/s`);
  if (sample.isConsuming) parts.push(`received ${formatCount(sample.receivedPerSecond)}/s`);
  if (sample.isConfirming) parts.push(`confirm ${formatPercentiles(sample.confirm)}`);
  if (sample.isConsuming) parts.push(`e2e ${formatPercentiles(sample.endToEnd)}`);
  if (sample.isConfirming) parts.push(`outstanding ${formatCount(sample.outstandingConfirms)}`);
  return parts.join(' | ');
}

function formatPercentiles(latency: LatencySummary | null): string {
  if (latency === null) return 'p50 - p99 -';
  return `p50 ${formatMs(latency.p50Ms)} ms p99 ${formatMs(latency.p99Ms)} ms`;
}

/** The final table, for people. */
export function formatSummaryTable(summary: PerfSummary): string {
  const { options, totals, rates, latency, cpu } = summary;
  const lines: string[] = [];
  const target =
    summary.broker.product === '' ? '' : ` (${summary.broker.product} ${summary.broker.version})`;
  lines.push(
    `warren-perf: ${options.producerCount} producers, ${options.consumerCount} consumers, ` +
      `${options.messageBytes} B messages, ${options.queueCount} queue${options.queueCount === 1 ? '' : 's'}, ` +
      `${summary.durationSeconds.toFixed(1)} s against ${summary.broker.uri}${target}`,
  );
  const flags: string[] = [];
  if (options.ratePerSecond > 0)
    flags.push(`rate ${formatCount(options.ratePerSecond)}/s per producer`);
  if (options.isPersistent) flags.push('persistent');
  if (options.confirmWindow > 0) flags.push(`confirm ${options.confirmWindow}`);
  if (options.isAutoAck) flags.push('autoack');
  if (options.multiAckEvery > 1) flags.push(`multi-ack ${options.multiAckEvery}`);
  if (options.prefetchCount > 0) flags.push(`prefetch ${options.prefetchCount}`);
  if (options.exchangeName !== '')
    flags.push(`${options.exchangeType} exchange ${options.exchangeName}`);
  flags.push(
    `${summary.layout.clientThreads} client thread${summary.layout.clientThreads === 1 ? '' : 's'}, ` +
      `${summary.layout.connections} connections`,
  );
  lines.push(`  ${flags.join(', ')}`);
  lines.push('');
  lines.push(`${'messages'.padEnd(14)}${'total'.padStart(14)}${'per second'.padStart(14)}`);
  const row = (name: string, total: number, rate: number | null) =>
    lines.push(
      `  ${name.padEnd(12)}${formatCount(total).padStart(14)}${rate === null ? '' : formatCount(rate).padStart(14)}`,
    );
  if (options.producerCount > 0) row('sent', totals.sent, rates.sentPerSecond);
  if (options.confirmWindow > 0) {
    row('confirmed', totals.confirmed, rates.confirmedPerSecond);
    row('nacked', totals.nacked, null);
    row('unconfirmed', totals.outstandingConfirms, null);
  }
  if (options.consumerCount > 0) row('received', totals.received, rates.receivedPerSecond);
  if (totals.foreign > 0) row('not ours', totals.foreign, null);
  lines.push('');
  const columns = ['p50', 'p95', 'p99', 'p99.9', 'max'];
  lines.push(
    `${'latency (ms)'.padEnd(14)}${columns.map((column) => column.padStart(9)).join('')}${'count'.padStart(14)}`,
  );
  const latencyRow = (name: string, summaryOf: LatencySummary | null) => {
    if (summaryOf === null) {
      lines.push(`  ${name.padEnd(12)}${'-'.padStart(9)}`);
      return;
    }
    const values = [
      summaryOf.p50Ms,
      summaryOf.p95Ms,
      summaryOf.p99Ms,
      summaryOf.p999Ms,
      summaryOf.maxMs,
    ];
    lines.push(
      `  ${name.padEnd(12)}${values.map((value) => formatMs(value).padStart(9)).join('')}` +
        formatCount(summaryOf.count).padStart(14),
    );
  };
  if (options.confirmWindow > 0) latencyRow('confirm', latency.confirm);
  if (options.consumerCount > 0 && options.producerCount > 0)
    latencyRow('end to end', latency.endToEnd);
  lines.push('');
  const busy = cpu.clientThreadBusyPercent.map((percent) => `${Math.round(percent)}%`).join(', ');
  lines.push(
    `generator CPU ${Math.round(cpu.percentOfOneCore)}% of one core (user ${cpu.userSeconds.toFixed(1)} s, ` +
      `system ${cpu.systemSeconds.toFixed(1)} s over ${cpu.wallSeconds.toFixed(1)} s; ` +
      `${cpu.cores} cores); client threads busy ${busy}`,
  );
  if (!summary.isDrained) {
    lines.push(
      `not drained: after ${summary.drainSeconds.toFixed(1)} s some confirms or deliveries were still in flight`,
    );
  }
  return lines.join('\n');
}

/** 1234567 → "1,234,567"; rates are rounded. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Milliseconds with three significant digits at most: 0.123, 1.23, 12.3, 123. */
export function formatMs(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}
