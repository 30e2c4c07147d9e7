// Resource alarms, as RabbitMQ raises them: memory above the high watermark, or free disk space
// under the limit. Memory is sampled every 100 ms (RSS of the whole process, shards included: a
// cheap read, and a flood can add tens of MB in a second), disk once a second (statfs of the
// data directory), so the data path never pays for them. A shard whose log fails writes
// (disk full, I/O error) also raises the disk alarm, at once, until its log works again.
// Network thread only.

import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';

export type AlarmResource = 'memory' | 'disk';

export interface AlarmLimits {
  /** A fraction of RAM when at most 1 (RabbitMQ's vm_memory_high_watermark), else bytes. */
  memoryHighWatermark: number;
  /** Free bytes on the data directory's file system below which publishing stops. */
  diskFreeLimitBytes: number;
}

/** Where the readings come from; tests substitute their own. */
export interface ResourceProbe {
  rssBytes(): number;
  diskFreeBytes(directory: string): Promise<number>;
}

export const SYSTEM_PROBE: ResourceProbe = {
  rssBytes: () => process.memoryUsage.rss(),
  diskFreeBytes: async (directory) => {
    const stats = await statfs(directory);
    return stats.bavail * stats.bsize;
  },
};

const SAMPLE_INTERVAL_MS = 100;
/** Disk is sampled every this many memory samples (once a second). */
const DISK_SAMPLE_EVERY = 10;

export function memoryLimitBytes(watermark: number): number {
  return watermark <= 1 ? Math.floor(totalmem() * watermark) : Math.floor(watermark);
}

/** The reason text RabbitMQ puts in connection.blocked. */
export function alarmReason(active: ReadonlySet<AlarmResource>): string {
  const reasons: string[] = [];
  if (active.has('memory')) reasons.push('low on memory');
  if (active.has('disk')) reasons.push('low on disk');
  return reasons.join(' & ');
}

export class ResourceAlarms {
  readonly active = new Set<AlarmResource>();
  private limits: AlarmLimits;
  private readonly directory: string;
  private readonly probe: ResourceProbe;
  private readonly onChange: (active: ReadonlySet<AlarmResource>) => void;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  /** The last sample's verdict on free disk space alone. */
  private isDiskFreeLow = false;
  /** Shards whose logs fail writes. */
  private readonly failingLogs = new Set<number>();

  constructor(
    limits: AlarmLimits,
    directory: string,
    onChange: (active: ReadonlySet<AlarmResource>) => void,
    probe: ResourceProbe = SYSTEM_PROBE,
  ) {
    this.limits = { ...limits };
    this.directory = directory;
    this.onChange = onChange;
    this.probe = probe;
  }

  get currentLimits(): Readonly<AlarmLimits> {
    return this.limits;
  }

  start(): Promise<void> {
    let tick = 0;
    this.timer = setInterval(() => {
      if (++tick % DISK_SAMPLE_EVERY === 0) void this.check();
      else this.checkMemory();
    }, SAMPLE_INTERVAL_MS);
    this.timer.unref();
    return this.check();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Changes limits at run time (rabbitmqctl set_vm_memory_high_watermark / set_disk_free_limit). */
  async setLimits(limits: Partial<AlarmLimits>): Promise<void> {
    this.limits = { ...this.limits, ...limits };
    await this.check();
  }

  /** Samples now; one sample at a time (a second caller waits for the running one, then samples). */
  async check(): Promise<void> {
    while (this.checking !== null) await this.checking;
    this.checking = this.sample();
    try {
      await this.checking;
    } finally {
      this.checking = null;
    }
  }

  /** A shard's log started failing writes (raises the disk alarm) or works again. */
  setLogFailing(shardIndex: number, isFailing: boolean): void {
    if (isFailing) this.failingLogs.add(shardIndex);
    else this.failingLogs.delete(shardIndex);
    this.publish(this.active.has('memory'));
  }

  /** A memory-only sample between full ones; skipped while a full one runs. */
  private checkMemory(): void {
    if (this.checking === null) this.publish(this.isMemoryLow());
  }

  private isMemoryLow(): boolean {
    return this.probe.rssBytes() >= memoryLimitBytes(this.limits.memoryHighWatermark);
  }

  private async sample(): Promise<void> {
    const isMemoryLow = this.isMemoryLow();
    try {
      this.isDiskFreeLow =
        (await this.probe.diskFreeBytes(this.directory)) < this.limits.diskFreeLimitBytes;
    } catch {
      // An unreadable file system keeps the last verdict rather than flapping.
    }
    this.publish(isMemoryLow);
  }

  private publish(isMemoryLow: boolean): void {
    const wasActive = alarmReason(this.active);
    this.update('memory', isMemoryLow);
    this.update('disk', this.isDiskFreeLow || this.failingLogs.size > 0);
    if (alarmReason(this.active) !== wasActive) this.onChange(this.active);
  }

  private update(resource: AlarmResource, isRaised: boolean): void {
    if (isRaised) this.active.add(resource);
    else this.active.delete(resource);
  }
}
