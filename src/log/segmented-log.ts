// An append-only log of checksummed records in numbered segment files, written by one thread.
// Appends go into an in-memory batch; a sync cycle writes the batch and fdatasyncs it, with at
// most one cycle in flight. Records appended while a cycle runs join the next one, so a lone
// writer waits one sync and many writers share each sync (group commit by demand, no timer).
//
// Invariants: records reach the disk in append order; `durableSeq` only grows and never passes
// a failed sync (a failed fdatasync is fatal, never retried); sealed segments are immutable; a
// segment is deleted only when it and every older segment hold no live records, and only after
// the appends that released them are durable, so an ack never outlives the message it settles
// and a relocated record is on disk before its old copy goes.

import { assert } from '../util/index.js';
import {
  checked,
  checkRecord,
  RECORD_HEADER_BYTES,
  RecordCheck,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  sealRecord,
} from './record-format.js';
import type { SegmentFile, Storage } from './storage.js';

export type FsyncMode = 'batch' | 'interval' | 'off';

export interface LogOptions {
  /** A segment is sealed and a new one started once it would grow past this. */
  segmentBytesMax: number;
  /** batch: fdatasync every batch before reporting it durable (safe, the default);
   *  interval: fdatasync at most every fsyncIntervalMs; off: report durable after write(). */
  fsyncMode: FsyncMode;
  fsyncIntervalMs: number;
  /** batch mode: wait this long before a sync to gather more records (0: start at once). */
  batchDelayMs: number;
  /** A batch this big starts its cycle even when a delay is configured. */
  batchBytesMax: number;
  /** Records nobody asked to sync are still written within this long. */
  lazyFlushMs: number;
  /** Compaction starts once the log holds at least this many bytes. */
  compactionMinBytes: number;
  /**
   * Reads the log without changing it: no torn tail is cut and no segment is started (for tools
   * that inspect a data directory, even while a broker uses it). Such a log takes no appends.
   */
  isReadOnly: boolean;
}

export const DEFAULT_LOG_OPTIONS: LogOptions = {
  segmentBytesMax: 64 * 1024 * 1024,
  fsyncMode: 'batch',
  fsyncIntervalMs: 10,
  batchDelayMs: 0,
  batchBytesMax: 4 * 1024 * 1024,
  lazyFlushMs: 200,
  compactionMinBytes: 128 * 1024 * 1024,
  isReadOnly: false,
};

/** What recovery hands each valid record to, in log order. Bytes are valid during the call. */
export interface RecoveryVisitor {
  onRecord(
    type: number,
    bytes: Buffer,
    start: number,
    end: number,
    segment: number,
    payloadOffset: number,
  ): void;
}

export interface Corruption {
  segment: number;
  offset: number;
  reason: string;
}

export interface RecoveryReport {
  segments: number;
  records: number;
  bytes: number;
  /** Bytes cut from the end of the newest segment (a write torn by a crash). */
  truncatedBytes: number;
  /** Damage found before the end; the records around it were kept. */
  corruptions: Corruption[];
  durationMs: number;
}

interface PendingWrite {
  file: SegmentFile;
  bytes: Buffer;
  position: number;
}

const BATCH_INITIAL_BYTES = 256 * 1024;

/** Upper bounds (ms) of the write-and-sync cycle duration histogram, for /metrics. */
export const SYNC_MS_BUCKET_BOUNDS: readonly number[] = [
  0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000,
];

export class SegmentedLog {
  private readonly storage: Storage;
  private readonly options: LogOptions;
  private readonly files = new Map<number, SegmentFile>();
  private readonly liveCount = new Map<number, number>();
  private readonly liveBytes = new Map<number, number>();
  /** For a sealed segment with nothing live: the append that must be durable before deletion. */
  private readonly deletableAfterSeq = new Map<number, number>();
  private active!: SegmentFile;
  private activeSegment = 0;

  /** The batch being filled; payloads go at the offsets beginAppend() returns. */
  batch: Buffer = Buffer.allocUnsafe(BATCH_INITIAL_BYTES);
  private batchBytes = 0;
  private batchFilePosition = 0;
  private spareBatch: Buffer | null = null;
  private sealedWrites: PendingWrite[] = [];
  private hasNewSegment = false;
  private recordAt = -1;

  /** Number of records appended so far. */
  appendSeq = 0;
  // Sampled by management: cycles run, time spent in them, bytes written.
  syncCycles = 0;
  syncMsTotal = 0;
  syncMsMax = 0;
  /** Cycles by duration: [i] counts those up to SYNC_MS_BUCKET_BOUNDS[i], the last the rest. */
  readonly syncMsBucketCounts = new Array<number>(SYNC_MS_BUCKET_BOUNDS.length + 1).fill(0);
  bytesWritten = 0;
  /** Every record up to this number is durable (per fsyncMode). */
  durableSeq = 0;
  /** Where the last appended record's payload is. */
  lastSegment = 0;
  lastPayloadOffset = 0;

  private isCycleRunning = false;
  private isSyncRequested = false;
  private isClosed = false;
  private isFailed = false;
  private timer: NodeJS.Timeout | null = null;
  private removals: Promise<void> = Promise.resolve();

  /** Called after each cycle with the new durableSeq. */
  onDurable: (durableSeq: number) => void = () => {};
  /** Called once when a write or sync fails: the owner must stop confirming and crash. */
  onFatal: (error: Error) => void = (error) => {
    throw error;
  };
  /** Asked to re-append the live records of an old, mostly dead segment (compaction). */
  onCompact: ((segment: number) => void) | null = null;

  private constructor(storage: Storage, options: LogOptions) {
    this.storage = storage;
    this.options = options;
  }

  /**
   * Opens the log: replays every valid record to `visitor` in order, cuts a torn tail, reports
   * damage in the middle, and starts a fresh segment for new appends.
   */
  static async open(
    storage: Storage,
    options: Partial<LogOptions>,
    visitor: RecoveryVisitor | ((log: SegmentedLog) => RecoveryVisitor),
  ): Promise<{ log: SegmentedLog; report: RecoveryReport }> {
    const log = new SegmentedLog(storage, { ...DEFAULT_LOG_OPTIONS, ...options });
    // A visitor that keeps records alive (retain) needs the log before recovery runs.
    const report = await log.recover(typeof visitor === 'function' ? visitor(log) : visitor);
    if (log.options.isReadOnly) {
      // Everything a reader wanted went to the visitor; nothing more will be read or written.
      log.isClosed = true;
      for (const file of log.files.values()) file.close();
      log.files.clear();
      return { log, report };
    }
    log.startSegment(Math.max(0, ...storage.list()) + 1);
    if (options.fsyncMode === 'interval') {
      log.timer = setInterval(() => log.onIntervalTick(), log.options.fsyncIntervalMs);
      log.timer.unref();
    }
    return { log, report };
  }

  get openSegmentCount(): number {
    return this.files.size;
  }

  /** Bytes of all segments (written or pending). */
  get totalBytes(): number {
    let total = this.batchBytes;
    for (const file of this.files.values()) total += file.sizeBytes;
    for (const write of this.sealedWrites) total += write.bytes.length;
    return total;
  }

  // ---------------------------------------------------------------- recovery

  private async recover(visitor: RecoveryVisitor): Promise<RecoveryReport> {
    const startedMs = Date.now();
    const report: RecoveryReport = {
      segments: 0,
      records: 0,
      bytes: 0,
      truncatedBytes: 0,
      corruptions: [],
      durationMs: 0,
    };
    const segments = this.storage.list();
    const files = segments.map((segment) => this.storage.open(segment, false));
    // One buffer for every segment: visitors copy what they keep, and a fresh buffer per segment
    // would leave hundreds of MiB of garbage behind after a big replay.
    let bytes = Buffer.allocUnsafe(0);
    for (let index = 0; index < segments.length; index++) {
      const segment = segments[index]!;
      const file = files[index]!;
      this.files.set(segment, file);
      if (bytes.length < file.sizeBytes) bytes = Buffer.allocUnsafe(file.sizeBytes);
      const size = file.readSync(bytes, 0, file.sizeBytes, 0);
      report.segments++;
      report.bytes += size;
      // Damage with nothing valid after it is a torn write when no later segment holds records
      // (a crash while sealing one segment and starting the next can tear the older one).
      const isNewest = files
        .slice(index + 1)
        .every((later) => later.sizeBytes <= SEGMENT_HEADER_BYTES);
      if (
        size < SEGMENT_HEADER_BYTES ||
        !bytes.subarray(0, SEGMENT_HEADER_BYTES).equals(SEGMENT_MAGIC)
      ) {
        if (isNewest && size < SEGMENT_HEADER_BYTES) {
          // Created but never written before the crash: nothing to keep.
          report.truncatedBytes += size;
          if (!this.options.isReadOnly) await file.truncate(0);
          this.deletableAfterSeq.set(segment, 0);
          continue;
        }
        report.corruptions.push({ segment, offset: 0, reason: 'bad segment header' });
      }
      let at = SEGMENT_HEADER_BYTES;
      while (at < size) {
        const check = checkRecord(bytes, at, size);
        if (check === RecordCheck.Valid) {
          const payloadBytes = checked.payloadBytes;
          const start = at + RECORD_HEADER_BYTES;
          visitor.onRecord(bytes[at + 8]!, bytes, start, start + payloadBytes, segment, start);
          report.records++;
          at = start + payloadBytes;
          continue;
        }
        const next = findNextRecord(bytes, at + 1, size);
        if (next < 0 && isNewest) {
          // Nothing valid after the damage in the newest segment: a write torn by a crash.
          report.truncatedBytes += size - at;
          if (!this.options.isReadOnly) await file.truncate(at);
          break;
        }
        report.corruptions.push({
          segment,
          offset: at,
          reason:
            check === RecordCheck.Truncated ? 'record runs past the end' : 'checksum mismatch',
        });
        if (next < 0) break;
        at = next;
      }
      this.deletableAfterSeq.set(segment, 0);
    }
    report.durationMs = Date.now() - startedMs;
    return report;
  }

  // ---------------------------------------------------------------- appends

  /**
   * Starts a record of `payloadBytes`; returns the offset in `batch` where its payload goes.
   * Read `batch` after this call (it may have been replaced). Finish with endAppend().
   */
  beginAppend(payloadBytes: number): number {
    assert(this.recordAt < 0, 'beginAppend() twice');
    assert(!this.isClosed, 'append to a closed log');
    const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
    const filePosition = this.batchFilePosition + this.batchBytes;
    if (
      filePosition + recordBytes > this.options.segmentBytesMax &&
      filePosition > SEGMENT_HEADER_BYTES
    ) {
      this.roll();
    }
    if (this.batchBytes + recordBytes > this.batch.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(this.batch.length * 2, this.batchBytes + recordBytes),
      );
      this.batch.copy(grown, 0, 0, this.batchBytes);
      this.batch = grown;
    }
    this.recordAt = this.batchBytes;
    return this.batchBytes + RECORD_HEADER_BYTES;
  }

  /** Seals the record begun last; returns its sequence number. */
  endAppend(type: number, payloadBytes: number): number {
    const at = this.recordAt;
    assert(at >= 0, 'endAppend() without beginAppend()');
    sealRecord(this.batch, at, type, payloadBytes);
    this.recordAt = -1;
    this.lastSegment = this.activeSegment;
    this.lastPayloadOffset = this.batchFilePosition + at + RECORD_HEADER_BYTES;
    this.batchBytes = at + RECORD_HEADER_BYTES + payloadBytes;
    this.appendSeq++;
    if (this.timer === null && this.options.fsyncMode !== 'interval') {
      // Records nobody waits for (acks) still reach the disk soon.
      this.timer = setTimeout(() => this.onLazyFlush(), this.options.lazyFlushMs);
      this.timer.unref();
    }
    return this.appendSeq;
  }

  /** Appends a whole record from `payload`. */
  append(type: number, payload: Buffer): number {
    const at = this.beginAppend(payload.length);
    payload.copy(this.batch, at);
    return this.endAppend(type, payload.length);
  }

  /** Asks for everything appended so far to become durable; flush() starts the work. */
  requestSync(): void {
    this.isSyncRequested = true;
  }

  /** Call at the end of a burst of appends: starts a cycle if one was requested and none runs. */
  flush(): void {
    if (!this.isSyncRequested || this.isCycleRunning || this.isFailed) return;
    const mode = this.options.fsyncMode;
    if (mode === 'interval') return;
    if (
      mode === 'batch' &&
      this.options.batchDelayMs > 0 &&
      this.batchBytes < this.options.batchBytesMax
    ) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.cycle();
      }, this.options.batchDelayMs);
      return;
    }
    void this.cycle();
  }

  /** Reads `length` bytes at a durable record's payload offset. */
  readSync(
    segment: number,
    offset: number,
    length: number,
    target: Buffer = Buffer.allocUnsafe(length),
    targetOffset = 0,
  ): Buffer {
    const file = this.files.get(segment);
    assert(file !== undefined, `read from missing segment ${segment}`);
    const read = file.readSync(target, targetOffset, length, offset);
    assert(read === length, `short read of segment ${segment} at ${offset}: ${read} of ${length}`);
    return target;
  }

  // ---------------------------------------------------------------- liveness

  /** A record in `segment` is needed (its data is live). */
  retain(segment: number, bytes: number): void {
    this.liveCount.set(segment, (this.liveCount.get(segment) ?? 0) + 1);
    this.liveBytes.set(segment, (this.liveBytes.get(segment) ?? 0) + bytes);
    this.deletableAfterSeq.delete(segment);
  }

  /** A record in `segment` is no longer needed. */
  release(segment: number, bytes: number): void {
    const count = (this.liveCount.get(segment) ?? 0) - 1;
    assert(count >= 0, `release below zero in segment ${segment}`);
    this.liveCount.set(segment, count);
    this.liveBytes.set(segment, (this.liveBytes.get(segment) ?? 0) - bytes);
    if (count === 0 && segment !== this.activeSegment)
      this.deletableAfterSeq.set(segment, this.appendSeq);
  }

  liveRecordsIn(segment: number): number {
    return this.liveCount.get(segment) ?? 0;
  }

  // ---------------------------------------------------------------- cycles

  private startSegment(segment: number): void {
    const file = this.storage.open(segment, true);
    this.files.set(segment, file);
    this.active = file;
    this.activeSegment = segment;
    this.batchFilePosition = 0;
    SEGMENT_MAGIC.copy(this.batch, 0);
    this.batchBytes = SEGMENT_HEADER_BYTES;
    this.hasNewSegment = true;
  }

  private roll(): void {
    const sealed = this.active;
    this.sealedWrites.push({
      file: sealed,
      bytes: this.batch.subarray(0, this.batchBytes),
      position: this.batchFilePosition,
    });
    this.batch = Buffer.allocUnsafe(BATCH_INITIAL_BYTES);
    if ((this.liveCount.get(sealed.segment) ?? 0) === 0)
      this.deletableAfterSeq.set(sealed.segment, this.appendSeq);
    this.startSegment(sealed.segment + 1);
  }

  private onLazyFlush(): void {
    this.timer = null;
    if (this.appendSeq > this.durableSeq && !this.isCycleRunning) void this.cycle();
  }

  private onIntervalTick(): void {
    if (this.appendSeq > this.durableSeq && !this.isCycleRunning) void this.cycle();
  }

  private async cycle(): Promise<void> {
    if (this.isCycleRunning || this.isFailed) return;
    this.isCycleRunning = true;
    this.isSyncRequested = false;
    const writes = this.sealedWrites;
    this.sealedWrites = [];
    if (this.batchBytes > 0) {
      writes.push({
        file: this.active,
        bytes: this.batch.subarray(0, this.batchBytes),
        position: this.batchFilePosition,
      });
      this.batchFilePosition += this.batchBytes;
      this.batchBytes = 0;
      const spare = this.spareBatch;
      this.spareBatch = null;
      this.batch = spare ?? Buffer.allocUnsafe(BATCH_INITIAL_BYTES);
    }
    const seq = this.appendSeq;
    const hasNewSegment = this.hasNewSegment;
    this.hasNewSegment = false;
    const startedMs = performance.now();
    try {
      for (const write of writes) await write.file.write([write.bytes], write.position);
      if (this.options.fsyncMode !== 'off') {
        const synced = new Set<SegmentFile>();
        for (const write of writes) {
          if (synced.has(write.file)) continue;
          synced.add(write.file);
          await write.file.sync();
        }
        if (hasNewSegment) await this.storage.syncDirectory();
      }
    } catch (error) {
      // Never retry a failed fdatasync and never confirm past it: the page cache may have
      // dropped the data, so nothing after this point can be trusted.
      this.isFailed = true;
      this.isCycleRunning = false;
      this.onFatal(error as Error);
      return;
    }
    const last = writes[writes.length - 1];
    if (
      last !== undefined &&
      last.bytes.buffer.byteLength === BATCH_INITIAL_BYTES &&
      last.file === this.active
    ) {
      this.spareBatch = Buffer.from(last.bytes.buffer, 0, BATCH_INITIAL_BYTES);
    }
    const elapsedMs = performance.now() - startedMs;
    this.syncCycles++;
    this.syncMsTotal += elapsedMs;
    if (elapsedMs > this.syncMsMax) this.syncMsMax = elapsedMs;
    let bucket = 0;
    while (bucket < SYNC_MS_BUCKET_BOUNDS.length && elapsedMs > SYNC_MS_BUCKET_BOUNDS[bucket]!) {
      bucket++;
    }
    this.syncMsBucketCounts[bucket]!++;
    for (const write of writes) this.bytesWritten += write.bytes.length;
    this.durableSeq = seq;
    this.isCycleRunning = false;
    this.onDurable(seq);
    this.collectGarbage();
    if (this.isSyncRequested && this.appendSeq > this.durableSeq) this.flush();
  }

  // ---------------------------------------------------------------- deletion and compaction

  private collectGarbage(): void {
    const segments = [...this.files.keys()].sort((left, right) => left - right);
    for (const segment of segments) {
      if (segment === this.activeSegment) break;
      if ((this.liveCount.get(segment) ?? 0) > 0) break;
      const afterSeq = this.deletableAfterSeq.get(segment);
      if (afterSeq === undefined || afterSeq > this.durableSeq) break;
      if (this.sealedWrites.some((write) => write.file.segment === segment)) break;
      const file = this.files.get(segment)!;
      this.files.delete(segment);
      this.liveCount.delete(segment);
      this.liveBytes.delete(segment);
      this.deletableAfterSeq.delete(segment);
      file.close();
      this.removals = this.removals
        .then(() => this.storage.remove(segment))
        .catch((error: Error) => {
          // A segment that cannot be unlinked costs disk, not correctness.
          process.emitWarning(`warren log: could not delete segment ${segment}: ${error.message}`);
        });
    }
    this.considerCompaction(segments);
  }

  private considerCompaction(segments: readonly number[]): void {
    const onCompact = this.onCompact;
    if (onCompact === null || this.totalBytes < this.options.compactionMinBytes) return;
    const oldest = segments.find(
      (segment) => this.files.has(segment) && segment !== this.activeSegment,
    );
    if (oldest === undefined) return;
    const file = this.files.get(oldest)!;
    const live = this.liveBytes.get(oldest) ?? 0;
    // Rewrite the oldest segment's survivors at the head when most of it is dead; then it goes.
    if (live > 0 && live * 2 < file.sizeBytes) onCompact(oldest);
  }

  /** Writes and syncs everything, waits for deletions, closes every file. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
      this.timer = null;
    }
    while (this.isCycleRunning) await new Promise((resolve) => setImmediate(resolve));
    if (
      !this.isFailed &&
      (this.appendSeq > this.durableSeq || this.sealedWrites.length > 0 || this.batchBytes > 0)
    ) {
      await this.cycle();
    }
    this.isClosed = true;
    await this.removals;
    for (const file of this.files.values()) file.close();
    this.files.clear();
  }
}

/** The offset of the next plausible valid record at or after `from`, or -1. */
function findNextRecord(bytes: Buffer, from: number, end: number): number {
  for (let at = from; at + RECORD_HEADER_BYTES <= end; at++) {
    if (checkRecord(bytes, at, end) === RecordCheck.Valid) return at;
  }
  return -1;
}
