// One contract suite run against both storages: appends, group commit, reads, roll-over,
// deletion, compaction requests, torn tails, corrupt middles, and recovery after each.

import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentedLog, type LogOptions, type RecoveryReport } from './segmented-log.js';
import { FaultyStorage, FileStorage, MemoryStorage, type Storage } from './storage.js';

interface Harness {
  name: string;
  storage(): Storage;
  /** The storage a restart finds (memory: after a crash that kept `keepUnsynced` bytes). */
  reopen(keepUnsynced?: number): Storage;
  /** Overwrites bytes of a segment as found on restart. */
  corrupt(segment: number, offset: number, bytes: Buffer): void;
  /** Cuts a segment to `size` bytes as found on restart. */
  cut(segment: number, size: number): void;
  segmentCount(): number;
  cleanup(): void;
}

function memoryHarness(): Harness {
  let current = new MemoryStorage();
  return {
    name: 'memory',
    storage: () => current,
    reopen: (keepUnsynced = 0) => (current = current.crashed(() => keepUnsynced)),
    corrupt: (segment, offset, bytes) => bytes.copy(current.bytesOf(segment), offset),
    cut: (segment, size) => {
      const kept = Buffer.from(current.bytesOf(segment).subarray(0, size));
      current = current.crashed();
      current.bytesOf(segment).fill(0);
      const file = current.open(segment, false) as unknown as {
        bytes: Buffer;
        syncedBytes: number;
      };
      file.bytes = kept;
      file.syncedBytes = kept.length;
    },
    segmentCount: () => current.list().length,
    cleanup: () => {},
  };
}

function fileHarness(): Harness {
  const directory = mkdtempSync(join(tmpdir(), 'warren-log-'));
  const fileOf = (segment: number) => join(directory, `${String(segment).padStart(16, '0')}.wlog`);
  return {
    name: 'file',
    storage: () => new FileStorage(directory),
    reopen: () => new FileStorage(directory),
    corrupt: (segment, offset, bytes) => {
      const content = readFileSync(fileOf(segment));
      bytes.copy(content, offset);
      writeFileSync(fileOf(segment), content);
    },
    cut: (segment, size) => truncateSync(fileOf(segment), size),
    segmentCount: () => readdirSync(directory).filter((name) => name.endsWith('.wlog')).length,
    cleanup: () => rmSync(directory, { recursive: true, force: true }),
  };
}

interface Seen {
  type: number;
  text: string;
  segment: number;
  offset: number;
}

async function openLog(
  storage: Storage,
  options: Partial<LogOptions> = {},
): Promise<{ log: SegmentedLog; seen: Seen[]; report: RecoveryReport }> {
  const seen: Seen[] = [];
  // Recovered records stay live, as an owner keeps what it recovers (else they would go).
  const { log, report } = await SegmentedLog.open(storage, options, (opened) => ({
    onRecord: (type, bytes, start, end, segment, offset) => {
      seen.push({ type, text: bytes.toString('utf8', start, end), segment, offset });
      opened.retain(segment, end - start);
    },
  }));
  return { log, seen, report };
}

function waitDurable(log: SegmentedLog, seq: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (log.durableSeq >= seq ? resolve() : setImmediate(check));
    check();
  });
}

describe.each([memoryHarness, fileHarness])('SegmentedLog on %o', (makeHarness) => {
  let harness: Harness;
  afterEach(() => harness?.cleanup());

  it('replays appended records in order after a clean close', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage());
    for (let i = 0; i < 100; i++) log.append(1 + (i % 3), Buffer.from(`record-${i}`));
    log.requestSync();
    log.flush();
    await log.close();
    const { seen, report } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text)).toEqual(
      Array.from({ length: 100 }, (_, i) => `record-${i}`),
    );
    expect(seen.map((record) => record.type)).toEqual(
      Array.from({ length: 100 }, (_, i) => 1 + (i % 3)),
    );
    expect(report.corruptions).toEqual([]);
    expect(report.truncatedBytes).toBe(0);
  });

  it('groups appends made during a sync into the next sync and reports durability in order', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage());
    const durable: number[] = [];
    log.onDurable = (seq) => durable.push(seq);
    log.append(1, Buffer.from('a'));
    log.requestSync();
    log.flush();
    // These arrive while the first cycle is in flight: they must share the next one.
    for (let i = 0; i < 10; i++) {
      log.append(1, Buffer.from(`b${i}`));
      log.requestSync();
      log.flush();
    }
    await waitDurable(log, 11);
    expect(durable).toEqual([1, 11]);
    await log.close();
  });

  it('reads a durable record back by segment and offset', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage());
    log.append(1, Buffer.from('first'));
    const seq = log.append(2, Buffer.from('second body'));
    const where = { segment: log.lastSegment, offset: log.lastPayloadOffset };
    log.requestSync();
    log.flush();
    await waitDurable(log, seq);
    expect(log.readSync(where.segment, where.offset, 11).toString()).toBe('second body');
    await log.close();
  });

  it('rolls segments, deletes them oldest first once nothing in them is live', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), { segmentBytesMax: 4096 });
    const locations: number[] = [];
    for (let i = 0; i < 60; i++) {
      log.append(1, Buffer.alloc(200, i));
      log.retain(log.lastSegment, 200);
      locations.push(log.lastSegment);
    }
    log.requestSync();
    log.flush();
    await waitDurable(log, 60);
    const segmentsBefore = harness.segmentCount();
    expect(segmentsBefore).toBeGreaterThan(2);
    // Releasing everything except the first record keeps every segment (oldest first).
    for (let i = 1; i < 60; i++) log.release(locations[i]!, 200);
    log.append(2, Buffer.from('tick'));
    log.requestSync();
    log.flush();
    await waitDurable(log, log.appendSeq);
    expect(harness.segmentCount()).toBe(segmentsBefore + 0);
    log.release(locations[0]!, 200);
    log.append(2, Buffer.from('tick'));
    log.requestSync();
    log.flush();
    await waitDurable(log, log.appendSeq);
    await log.close();
    // Only the active segment is left.
    expect(harness.segmentCount()).toBe(1);
  });

  it('asks to compact an old segment that is mostly dead', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), {
      segmentBytesMax: 4096,
      compactionMinBytes: 0,
    });
    const asked: number[] = [];
    log.onCompact = (segment) => asked.push(segment);
    const first: number[] = [];
    for (let i = 0; i < 40; i++) {
      log.append(1, Buffer.alloc(200, i));
      log.retain(log.lastSegment, 200);
      first.push(log.lastSegment);
    }
    // All but one record of the first segment die.
    first.forEach((segment, i) => {
      if (i > 0) log.release(segment, 200);
    });
    log.requestSync();
    log.flush();
    await waitDurable(log, log.appendSeq);
    expect(asked).toContain(first[0]);
    await log.close();
  });

  it('truncates a torn tail and keeps everything before it', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage());
    for (let i = 0; i < 5; i++) log.append(1, Buffer.from(`kept-${i}`));
    log.requestSync();
    log.flush();
    await waitDurable(log, 5);
    const segment = log.lastSegment;
    const end = log.lastPayloadOffset + 'kept-4'.length;
    log.append(1, Buffer.from('torn-record-that-will-be-cut'));
    await log.close();
    harness.cut(segment, end + 12);
    const { seen, report } = await openLog(harness.reopen(12));
    expect(seen.map((record) => record.text)).toEqual([
      'kept-0',
      'kept-1',
      'kept-2',
      'kept-3',
      'kept-4',
    ]);
    expect(report.truncatedBytes).toBe(12);
    expect(report.corruptions).toEqual([]);
    // The log works on after the cut.
    const again = await openLog(harness.reopen());
    expect(again.seen).toHaveLength(5);
    await again.log.close();
  });

  it('replays segments bigger than its read window, records across its edges and bigger than it', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), { segmentBytesMax: 8 * 1024 * 1024 });
    const sizes = [70_000, 1_500_000, 333, 2_100_000, 99_999, 1 << 20, 12];
    const texts: string[] = [];
    for (let i = 0; i < 40; i++) {
      const text = `r${i}:`.padEnd(sizes[i % sizes.length]!, String.fromCharCode(97 + (i % 26)));
      texts.push(text);
      log.append(1, Buffer.from(text));
      log.retain(log.lastSegment, text.length);
    }
    const damaged = log.lastSegment;
    const damagedAt = log.lastPayloadOffset;
    log.append(1, Buffer.from('after-damage'));
    await log.close();
    const clean = await openLog(harness.reopen());
    expect(clean.seen.map((record) => record.text)).toEqual([...texts, 'after-damage']);
    expect(clean.report.corruptions).toEqual([]);
    // Damage deep in a segment is found past the window and the record after it kept.
    harness.corrupt(damaged, damagedAt + 5, Buffer.from('XX'));
    const { seen, report } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text)).toEqual([...texts.slice(0, -1), 'after-damage']);
    expect(report.corruptions).toEqual([
      { segment: damaged, offset: damagedAt - 9, reason: 'checksum mismatch' },
    ]);
  });

  it('reports a corrupt record in the middle with its place and keeps the rest', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage());
    const offsets: number[] = [];
    for (let i = 0; i < 5; i++) {
      log.append(1, Buffer.from(`record-${i}`));
      offsets.push(log.lastPayloadOffset);
    }
    const segment = log.lastSegment;
    await log.close();
    harness.corrupt(segment, offsets[2]! + 1, Buffer.from('XX'));
    const { seen, report } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text)).toEqual([
      'record-0',
      'record-1',
      'record-3',
      'record-4',
    ]);
    expect(report.corruptions).toEqual([
      { segment, offset: offsets[2]! - 9, reason: 'checksum mismatch' },
    ]);
    expect(report.truncatedBytes).toBe(0);
  });
});

describe('SegmentedLog on memory storage, crashes', () => {
  it('after a crash, every record reported durable is there, in order, and nothing else is garbled', async () => {
    expect.hasAssertions();
    for (let round = 0; round < 20; round++) {
      let storage = new MemoryStorage();
      const { log } = await openLog(storage);
      let durable = 0;
      log.onDurable = (seq) => (durable = seq);
      const total = 50 + round * 7;
      for (let i = 1; i <= total; i++) {
        log.append(1, Buffer.from(`m${i}`.padEnd(10 + (i % 17), '.')));
        if (i % 9 === 0) {
          log.requestSync();
          log.flush();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      log.requestSync();
      log.flush();
      // Crash at an arbitrary point: keep a torn part of whatever was not synced.
      storage = storage.crashed((_segment, unsynced) => (round * 13) % (unsynced + 1));
      const durableAtCrash = durable;
      const { seen, report } = await openLog(storage);
      expect(seen.length).toBeGreaterThanOrEqual(durableAtCrash);
      seen.forEach((record, i) =>
        expect(record.text.startsWith(`m${i + 1}.`) || record.text === `m${i + 1}`).toBe(true),
      );
      expect(report.corruptions).toEqual([]);
    }
  });
});

function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error('timed out waiting'));
      else setTimeout(check, 5);
    };
    check();
  });
}

/**
 * Appends `count` records of `bytes` each, retained as an owner would keep live messages, and
 * waits until they are durable; returns the segment each record went to.
 */
async function appendRetainedDurably(
  log: SegmentedLog,
  count: number,
  bytes: number,
): Promise<number[]> {
  const locations: number[] = [];
  for (let i = 0; i < count; i++) {
    log.append(1, Buffer.alloc(bytes, i));
    log.retain(log.lastSegment, bytes);
    locations.push(log.lastSegment);
  }
  log.requestSync();
  log.flush();
  await waitDurable(log, log.appendSeq);
  return locations;
}

function appendAndSync(log: SegmentedLog, texts: string[]): number {
  let seq = 0;
  for (const text of texts) seq = log.append(1, Buffer.from(text));
  log.requestSync();
  log.flush();
  return seq;
}

describe.each([memoryHarness, fileHarness])('SegmentedLog on %o, storage faults', (makeHarness) => {
  let harness: Harness;
  afterEach(() => harness?.cleanup());

  it.each([
    ['ENOSPC on write', { write: 'ENOSPC', sync: null, truncate: null }],
    ['EIO on fdatasync', { write: null, sync: 'EIO', truncate: null }],
  ])(
    '%s: loses only what was not durable, cuts it off, probes, and goes on after the good records',
    async (_name, injected) => {
      harness = makeHarness();
      const storage = new FaultyStorage(harness.storage());
      const faults = storage.faults;
      const { log } = await openLog(storage);
      const failures: string[] = [];
      let recoveries = 0;
      log.onWriteFailed = (error) => failures.push((error as NodeJS.ErrnoException).code!);
      log.onWriteRecovered = () => recoveries++;
      await waitDurable(log, appendAndSync(log, ['good-1', 'good-2']));
      Object.assign(faults, injected);
      const lostSeq = appendAndSync(log, ['lost-1', 'lost-2-longer-record']);
      await until(() => failures.length === 1);
      expect(log.isFailing).toBe(true);
      expect(log.durableSeq).toBe(2);
      // Appends go on while failing; they wait for the next probe (and fail with it here).
      appendAndSync(log, ['lost-3']);
      await until(() => failures.length === 2);
      expect(log.durableSeq).toBe(2);
      Object.assign(faults, { write: null, sync: null, truncate: null });
      const laterSeq = appendAndSync(log, ['later-1', 'later-2']);
      expect(laterSeq).toBeGreaterThan(lostSeq);
      await waitDurable(log, laterSeq);
      expect(log.isFailing).toBe(false);
      expect(recoveries).toBe(1);
      expect(log.readSync(log.lastSegment, log.lastPayloadOffset, 7).toString()).toBe('later-2');
      await log.close();
      const { seen, report } = await openLog(harness.reopen());
      expect(seen.map((record) => record.text)).toEqual(['good-1', 'good-2', 'later-1', 'later-2']);
      expect(report.corruptions).toEqual([]);
      expect(report.truncatedBytes).toBe(0);
    },
  );

  it('throws away segments started by a failed cycle and keeps numbering past them', async () => {
    harness = makeHarness();
    const storage = new FaultyStorage(harness.storage());
    const faults = storage.faults;
    const { log } = await openLog(storage, {
      segmentBytesMax: 1024,
    });
    let failures = 0;
    log.onWriteFailed = () => failures++;
    const retainLast = () => log.retain(log.lastSegment, 1);
    await waitDurable(log, appendAndSync(log, ['good']));
    retainLast();
    const goodSegment = log.lastSegment;
    faults.write = 'ENOSPC';
    appendAndSync(
      log,
      Array.from({ length: 20 }, (_, i) => `lost-${i}`.padEnd(200, '.')),
    );
    expect(log.lastSegment).toBeGreaterThan(goodSegment);
    const newestLost = log.lastSegment;
    await until(() => failures === 1);
    faults.write = null;
    const seq = appendAndSync(log, ['after']);
    retainLast();
    await waitDurable(log, seq);
    expect(log.lastSegment).toBe(goodSegment);
    // A roll after the failure takes a number no lost segment used.
    for (let i = 0; i < 8; i++) {
      appendAndSync(log, [`next-${i}`.padEnd(200, '.')]);
      retainLast();
    }
    await waitDurable(log, log.appendSeq);
    expect(log.lastSegment).toBeGreaterThan(newestLost);
    await log.close();
    const { seen, report } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text.replace(/\.+$/, ''))).toEqual([
      'good',
      'after',
      ...Array.from({ length: 8 }, (_, i) => `next-${i}`),
    ]);
    expect(report.corruptions).toEqual([]);
  });

  it('keeps failing cleanly while even the cut fails, and heals when it works', async () => {
    harness = makeHarness();
    const storage = new FaultyStorage(harness.storage());
    const faults = storage.faults;
    faults.write = 'EIO';
    const { log } = await openLog(storage);
    let failures = 0;
    let recoveries = 0;
    log.onWriteFailed = () => failures++;
    log.onWriteRecovered = () => recoveries++;
    appendAndSync(log, ['lost-1']);
    await until(() => failures === 1);
    faults.write = null;
    faults.truncate = 'EIO';
    // Nothing to write: the probe itself tries the cut, and fails.
    await until(() => failures === 2);
    expect(recoveries).toBe(0);
    faults.truncate = null;
    await until(() => recoveries === 1);
    expect(log.isFailing).toBe(false);
    await waitDurable(log, appendAndSync(log, ['kept']));
    await log.close();
    const { seen, report } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text)).toEqual(['kept']);
    expect(report.corruptions).toEqual([]);
  });
});

describe.each([memoryHarness, fileHarness])('SegmentedLog on %o, idle deletion', (makeHarness) => {
  let harness: Harness;
  afterEach(() => harness?.cleanup());

  it('deletes dead segments without a further append, the active one once idle', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), {
      segmentBytesMax: 64 * 1024,
      deadSegmentIdleMs: 20,
    });
    // Three full segments and an active one holding about 48 KB.
    const locations = await appendRetainedDurably(log, 120, 2000);
    expect(harness.segmentCount()).toBeGreaterThan(2);
    const active = log.lastSegment;
    // Settled without a record of their own (a deleted queue's copies coming back): no append.
    for (const segment of locations) log.release(segment, 2000);
    await until(() => harness.segmentCount() === 1 && harness.storage().list()[0]! > active);
    expect(log.totalBytes).toBeLessThan(64);
    expect(log.openSegmentCount).toBe(1);
    await log.close();
    const { seen } = await openLog(harness.reopen());
    expect(seen).toEqual([]);
  });

  it('compacts a mostly dead oldest segment once idle, whatever the log size, and then deletes', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), {
      segmentBytesMax: 64 * 1024,
      deadSegmentIdleMs: 20,
    });
    // The first record stays live (like shard 0's definitions); everything else dies.
    log.append(1, Buffer.from('survivor'));
    log.retain(log.lastSegment, 8);
    let survivorSegment = log.lastSegment;
    const locations = await appendRetainedDurably(log, 120, 2000);
    const compacted: number[] = [];
    log.onCompact = (segment) => {
      // The owner writes its survivors again at the head and frees the old copies.
      compacted.push(segment);
      log.append(1, Buffer.from('survivor'));
      log.retain(log.lastSegment, 8);
      log.release(survivorSegment, 8);
      survivorSegment = log.lastSegment;
    };
    for (const segment of locations) log.release(segment, 2000);
    await until(() => harness.segmentCount() === 1, 5000);
    expect(compacted).toEqual([1]);
    expect(log.totalBytes).toBeLessThan(100);
    await log.close();
    const { seen } = await openLog(harness.reopen());
    expect(seen.map((record) => record.text)).toEqual(['survivor']);
  });

  it('leaves a live active segment alone', async () => {
    harness = makeHarness();
    const { log } = await openLog(harness.storage(), { deadSegmentIdleMs: 10 });
    for (let i = 0; i < 50; i++) {
      log.append(1, Buffer.alloc(2000, i));
      log.retain(log.lastSegment, 2000);
    }
    log.requestSync();
    log.flush();
    await waitDurable(log, log.appendSeq);
    const segment = log.lastSegment;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(harness.storage().list()).toEqual([segment]);
    await log.close();
  });
});
