import { describe, expect, it } from 'vitest';
import {
  type AlarmResource,
  alarmReason,
  memoryLimitBytes,
  type ResourceProbe,
  ResourceAlarms,
} from './resource-alarms.js';

class FakeProbe implements ResourceProbe {
  rss = 100;
  diskFree = 1000;
  isDiskReadable = true;
  rssBytes(): number {
    return this.rss;
  }
  async diskFreeBytes(): Promise<number> {
    if (!this.isDiskReadable) throw new Error('EIO');
    return this.diskFree;
  }
}

function alarmsWith(probe: FakeProbe, changes: string[]): ResourceAlarms {
  return new ResourceAlarms(
    { memoryHighWatermark: 200, diskFreeLimitBytes: 500 },
    '/data',
    (active: ReadonlySet<AlarmResource>) => changes.push(alarmReason(active)),
    probe,
  );
}

describe('ResourceAlarms', () => {
  it('raises and clears memory and disk alarms, reporting only changes', async () => {
    const probe = new FakeProbe();
    const changes: string[] = [];
    const alarms = alarmsWith(probe, changes);
    await alarms.check();
    expect(changes).toEqual([]);
    probe.rss = 200;
    await alarms.check();
    await alarms.check();
    probe.diskFree = 499;
    await alarms.check();
    probe.rss = 199;
    await alarms.check();
    probe.diskFree = 500;
    await alarms.check();
    expect(changes).toEqual(['low on memory', 'low on memory & low on disk', 'low on disk', '']);
  });

  it('keeps the last disk verdict when the file system cannot be read', async () => {
    const probe = new FakeProbe();
    const changes: string[] = [];
    const alarms = alarmsWith(probe, changes);
    probe.diskFree = 1;
    await alarms.check();
    probe.isDiskReadable = false;
    await alarms.check();
    expect([...alarms.active]).toEqual(['disk']);
  });

  it('applies new limits at once', async () => {
    const probe = new FakeProbe();
    const changes: string[] = [];
    const alarms = alarmsWith(probe, changes);
    await alarms.setLimits({ memoryHighWatermark: 50 });
    expect(changes).toEqual(['low on memory']);
    await alarms.setLimits({ memoryHighWatermark: 0.99 });
    expect(alarms.active.size).toBe(0);
  });

  it('reads a watermark of at most 1 as a fraction of RAM, above 1 as bytes', () => {
    expect(memoryLimitBytes(1_000_000)).toBe(1_000_000);
    expect(memoryLimitBytes(0.5)).toBeGreaterThan(1_000_000);
  });
});
