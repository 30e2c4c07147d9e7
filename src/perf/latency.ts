// Latency histograms of warren-perf: hdr-histogram-js histograms of microseconds, built the same
// way on every thread, sent between threads as compressed base64, merged on the main thread and
// summarised as percentiles in milliseconds. Any thread; recording is the per-message part.

import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

export type { Histogram };

/** The largest latency kept apart from others: one hour. Longer ones count as one hour. */
export const LATENCY_MICROSECONDS_MAX = 3_600_000_000;

/** A histogram of microseconds from 1 µs to one hour at 3 significant digits. */
export function createLatencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_MICROSECONDS_MAX,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });
}

/** Records `fromMs` → `toMs` (milliseconds on the shared clock), clamped into range. Hot path. */
export function recordLatency(histogram: Histogram, fromMs: number, toMs: number): void {
  let microseconds = Math.round((toMs - fromMs) * 1000);
  // Clocks of two threads can disagree by a microsecond; a message never arrives before it left.
  if (!(microseconds >= 0)) microseconds = 0;
  else if (microseconds > LATENCY_MICROSECONDS_MAX) microseconds = LATENCY_MICROSECONDS_MAX;
  histogram.recordValue(microseconds);
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/** Adds an encoded histogram into `into`. */
export function addEncodedHistogram(into: Histogram, encoded: string): void {
  const decoded = decodeFromCompressedBase64(encoded);
  into.add(decoded);
  decoded.destroy();
}

/** Percentiles of a histogram, in milliseconds. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** The summary of `histogram`, or null when it holds nothing. */
export function summarizeLatency(histogram: Histogram): LatencySummary | null {
  if (histogram.totalCount === 0) return null;
  const milliseconds = (microseconds: number): number => Math.round(microseconds) / 1000;
  return {
    count: histogram.totalCount,
    meanMs: milliseconds(histogram.mean),
    p50Ms: milliseconds(histogram.getValueAtPercentile(50)),
    p95Ms: milliseconds(histogram.getValueAtPercentile(95)),
    p99Ms: milliseconds(histogram.getValueAtPercentile(99)),
    p999Ms: milliseconds(histogram.getValueAtPercentile(99.9)),
    maxMs: milliseconds(histogram.maxValue),
  };
}

const TIME_ORIGIN_MS = performance.timeOrigin;

/**
 * Milliseconds since the Unix epoch with sub-millisecond precision, the same on every thread (and
 * on every process of the host): what a message carries as its send time.
 */
export function sharedClockMs(): number {
  return TIME_ORIGIN_MS + performance.now();
}
