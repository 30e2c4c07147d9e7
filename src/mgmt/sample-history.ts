// The samples kept for history (RabbitMQ's `samples` in *_details): one every few seconds, at
// most SAMPLES_MAX of them, and fewer when there are many objects, so that samples × objects
// stays under OBJECT_SAMPLES_MAX (the memory cap: each object costs one small record per
// sample). Network thread only.

/** About ten minutes at the 5 s sampling interval (RabbitMQ keeps 605 s of basic history). */
const SAMPLES_MAX = 121;
/** Object records kept over all samples (~100 bytes each: about 20 MB at most). */
const OBJECT_SAMPLES_MAX = 200_000;

export class SampleHistory<T extends { atMs: number }> {
  private readonly intervalMs: number;
  /** Oldest first, with how many object records each holds. */
  private readonly samples: T[] = [];
  private readonly objectCounts: number[] = [];
  private objectSamples = 0;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  get length(): number {
    return this.samples.length;
  }

  /** Keeps `sample` if the newest kept one is about an interval old; drops the oldest past the caps. */
  offer(sample: T, objectCount: number): void {
    const newest = this.samples[this.samples.length - 1];
    // Timers jitter: a sample slightly early still counts as the next one.
    if (newest !== undefined && sample.atMs - newest.atMs < this.intervalMs * 0.9) return;
    this.samples.push(sample);
    this.objectCounts.push(objectCount);
    this.objectSamples += objectCount;
    while (
      this.samples.length > 1 &&
      (this.samples.length > SAMPLES_MAX || this.objectSamples > OBJECT_SAMPLES_MAX)
    ) {
      this.samples.shift();
      this.objectSamples -= this.objectCounts.shift()!;
    }
  }

  /**
   * Samples `incrMs` apart back to `ageMs` before `latest` (which comes first, kept or not),
   * newest first: for each step the newest sample at or before it.
   */
  pick(latest: T, ageMs: number, incrMs: number): T[] {
    const picked = [latest];
    const countMax = Math.floor(ageMs / incrMs) + 1;
    const oldestMs = latest.atMs - ageMs;
    // Half a step of slack: sample times drift a little from exact multiples of the interval.
    const slackMs = Math.min(incrMs / 2, this.intervalMs / 2);
    let targetMs = latest.atMs - incrMs;
    for (
      let i = this.samples.length - 1;
      i >= 0 && targetMs >= oldestMs - slackMs && picked.length < countMax;
      i--
    ) {
      const sample = this.samples[i]!;
      if (sample === latest || sample.atMs > targetMs + slackMs) continue;
      picked.push(sample);
      targetMs = sample.atMs - incrMs;
    }
    return picked;
  }
}
