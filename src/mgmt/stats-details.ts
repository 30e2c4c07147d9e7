// RabbitMQ's *_details objects for one request: the rate between the last two samples and,
// when the request asks with `lengths_age`/`lengths_incr` (queue depths), `msg_rates_age`/
// `msg_rates_incr` (message counters) or `data_rates_age`/`data_rates_incr` (connection bytes),
// in seconds, the `samples` from history (newest first) with their `avg` and `avg_rate`.

import { badRequest } from './http-errors.js';
import type { Sample, StatsSampler } from './stats-sampler.js';

export type HistoryFamily = 'lengths' | 'msg_rates' | 'data_rates';

const FAMILIES: HistoryFamily[] = ['lengths', 'msg_rates', 'data_rates'];
/** Longest history a request may ask for, seconds (more than the history holds). */
const AGE_SECONDS_MAX = 86_400;

function roundRate(rate: number): number {
  return Math.round(rate * 10) / 10;
}

function secondsParameter(query: URLSearchParams, name: string): number | null {
  const text = query.get(name);
  if (text === null) return null;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > AGE_SECONDS_MAX) {
    throw badRequest(`${name} must be a whole number of seconds from 1 to ${AGE_SECONDS_MAX}`);
  }
  return Number(text);
}

export class StatsDetails {
  readonly sampler: StatsSampler;
  /** Per family: the history asked for (ms), or null for the rate alone. */
  private readonly ranges = new Map<HistoryFamily, { ageMs: number; incrMs: number }>();
  /** Samples picked per family, shared by every object in the answer. */
  private readonly picked = new Map<HistoryFamily, Sample[]>();

  constructor(sampler: StatsSampler, query: URLSearchParams) {
    this.sampler = sampler;
    for (const family of FAMILIES) {
      const age = secondsParameter(query, `${family}_age`);
      const incr = secondsParameter(query, `${family}_incr`);
      if (age === null) continue;
      this.ranges.set(family, { ageMs: age * 1000, incrMs: (incr ?? 5) * 1000 });
    }
  }

  /** The details of the value `read` gets from each sample (undefined: the object was not there). */
  of(
    read: (sample: Sample) => number | undefined,
    family: HistoryFamily,
  ): Record<string, number | object> {
    const rate = roundRate(this.sampler.rate(read));
    const samples = this.samplesFor(family);
    if (samples === null) return { rate };
    const points: { sample: number; timestamp: number }[] = [];
    for (const sample of samples) {
      const value = read(sample);
      if (value === undefined) break;
      points.push({ sample: value, timestamp: sample.atMs });
    }
    let sum = 0;
    for (const point of points) sum += point.sample;
    const newest = points[0];
    const oldest = points[points.length - 1];
    const spanSeconds =
      newest === undefined || oldest === undefined
        ? 0
        : (newest.timestamp - oldest.timestamp) / 1000;
    return {
      rate,
      samples: points,
      avg: points.length === 0 ? 0 : sum / points.length,
      avg_rate: spanSeconds <= 0 ? 0 : roundRate((newest!.sample - oldest!.sample) / spanSeconds),
    };
  }

  private samplesFor(family: HistoryFamily): Sample[] | null {
    const range = this.ranges.get(family);
    const latest = this.sampler.latestSample;
    if (range === undefined || latest === null) return null;
    let samples = this.picked.get(family);
    if (samples === undefined) {
      samples = this.sampler.history.pick(latest, range.ageMs, range.incrMs);
      this.picked.set(family, samples);
    }
    return samples;
  }
}
