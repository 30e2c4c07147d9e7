// Unit tests for the sample history: one sample kept per interval, the caps on samples and on
// object records, and picking samples by age and increment.

import { describe, expect, it } from 'vitest';
import { SampleHistory } from './sample-history.js';

function at(atMs: number) {
  return { atMs };
}

describe('SampleHistory', () => {
  it('keeps about one sample per interval', () => {
    expect.hasAssertions();
    const history = new SampleHistory(5000);
    for (let ms = 0; ms <= 20_000; ms += 1000) history.offer(at(ms), 1);
    expect(history.length).toBe(5);
  });

  it('drops the oldest samples past 121, and past the object budget', () => {
    expect.hasAssertions();
    const history = new SampleHistory(1000);
    for (let i = 0; i < 500; i++) history.offer(at(i * 1000), 1);
    expect(history.length).toBe(121);
    const crowded = new SampleHistory(1000);
    for (let i = 0; i < 50; i++) crowded.offer(at(i * 1000), 50_000);
    expect(crowded.length).toBe(4);
  });

  it('picks the newest sample at or before each step, newest first, back to the age', () => {
    expect.hasAssertions();
    const history = new SampleHistory(5000);
    const samples = [0, 5010, 9990, 15_000, 20_020, 25_000].map(at);
    for (const sample of samples) history.offer(sample, 1);
    const latest = at(27_000);
    expect(history.pick(latest, 20_000, 5000).map((sample) => sample.atMs)).toEqual([
      27_000, 20_020, 15_000, 9990, 5010,
    ]);
    expect(history.pick(latest, 10_000, 5000)).toHaveLength(3);
    expect(history.pick(latest, 60_000, 10_000).map((sample) => sample.atMs)).toEqual([
      27_000, 15_000, 5010,
    ]);
    expect(history.pick(samples[5]!, 10_000, 5000).map((sample) => sample.atMs)).toEqual([
      25_000, 20_020, 15_000,
    ]);
  });
});
