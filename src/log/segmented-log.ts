// An append-only log of checksummed records in numbered segment files, written by one thread.
// Appends go into an in-memory batch; a sync cycle writes the batch and fdatasyncs it, with at
// most one cycle in flight. Records appended while a cycle runs join the next one, so a lone
// writer waits one sync and many writers share each sync (group commit by demand, no timer).
//
// Invariants: records reach the disk in append order; `durableSeq` only grows and never passes
// a failed write or sync; sealed segments are immutable (but for a rewind into the segment
// whose durable end a failed cycle started from); a segment is deleted only when it and
// every older segment hold no live records, and only after the appends that released them are
// durable, so an ack never outlives the message it settles and a relocated record is on disk
// before its old copy goes. A failed cycle loses every record not yet durable: the log cuts its
// files back to the last durable byte before it writes again (never leaving a partial record
// where later ones follow), tells its owner, and probes once a second until writes succeed.
//
// Over 600 lines because append, the sync cycle, rotation, cut-back after a failure and deletion
// share the invariants above; split, no one file could show they hold.

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
  /** An active segment whose records are all dead is sealed (and so deleted) after this long
   *  without a cycle, so an idle log gives its space back. */
  deadSegmentIdleMs: number;
  /**
   * Reads the log without changing it: no torn tail is cut and no segment is started (for tools
   * that inspect a data directory, even while a broker uses it). Such a log takes no appends.
   */
  isReadOnly: boolean;
}

/** The one place these defaults live: the broker's settings schema takes its log defaults here. */
export const DEFAULT_LOG_OPTIONS: LogOptions = {
  segmentBytesMax: 64 * 1024 * 1024,
  fsyncMode: 'batch',
  fsyncIntervalMs: 10,
  batchDelayMs: 0,
  batchBytesMax: 4 * 1024 * 1024,
  lazyFlushMs: 200,
  compactionMinBytes: 256 * 1024 * 1024,
  deadSegmentIdleMs: 1000,
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
/** Recovery reads segments through a window this big (bigger only for a bigger record). */
const RECOVERY_WINDOW_BYTES = 1024 * 1024;
/** While failing, a cycle runs this often to retry (and to find out when space is back). */
const PROBE_INTERVAL_MS = 1000;
/** A dead active segment smaller than this is not worth a new file. */
const DEAD_SEGMENT_MIN_BYTES = 64 * 1024;

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
  /** Segment numbers only grow, even past segments a failed cycle threw away. */
  private nextSegment = 1;
  /** After a failed cycle: cut this file back to this size before writing again. */
  private repairFile: SegmentFile | null = null;
  private repairSizeBytes = 0;

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
  private isClosing = false;
  /** A cycle failed and none has succeeded since. */
  isFailing = false;
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleSinceCycles = 0;
  /** The segment idle compaction last asked for: asked once (its survivors may not move). */
  private idleCompactedSegment = -1;
  private isCollectScheduled = false;
  private removals: Promise<void> = Promise.resolve();

  /** Called after each cycle with the new durableSeq. */
  onDurable: (durableSeq: number) => void = () => {};
  /**
   * Called when a write or sync fails. Every record after `durableSeq` is lost (it will never be
   * durable, and appends go on after it): the owner must fail what waited for them, release
   * what they retained, and append again what must stay durable. Probes follow each second.
   */
  onWriteFailed: (error: Error) => void = () => {};
  /** Called when a cycle succeeds after failures. */
  onWriteRecovered: () => void = () => {};
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
    log.startSegment(storage.open(Math.max(0, ...storage.list()) + 1, true));
    // Segments recovery found dead go without waiting for an append.
    log.scheduleCollect();
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
    // Segments are read through one window of RECOVERY_WINDOW_BYTES, not whole: visitors copy
    // what they keep, and a buffer the size of a segment would stay behind as garbage (RSS) long
    // after the replay, since nothing makes V8 collect it while the broker idles.
    let window = Buffer.allocUnsafe(RECOVERY_WINDOW_BYTES);
    for (let index = 0; index < segments.length; index++) {
      const segment = segments[index]!;
      const file = files[index]!;
      this.files.set(segment, file);
      const size = file.sizeBytes;
      // The window holds the file's bytes [windowStart, windowEnd).
      let windowStart = 0;
      let windowEnd = 0;
      /** Reads from `from` on: at least `minBytes` (a record bigger than the window) or to the end. */
      const fill = (from: number, minBytes: number): void => {
        const want = Math.min(size - from, Math.max(minBytes, RECOVERY_WINDOW_BYTES));
        if (want > window.length) window = Buffer.allocUnsafe(want);
        windowStart = from;
        windowEnd = from + file.readSync(window, 0, want, from);
      };
      fill(0, 0);
      report.segments++;
      report.bytes += size;
      // Damage with nothing valid after it is a torn write when no later segment holds records
      // (a crash while sealing one segment and starting the next can tear the older one).
      const isNewest = files
        .slice(index + 1)
        .every((later) => later.sizeBytes <= SEGMENT_HEADER_BYTES);
      if (
        size < SEGMENT_HEADER_BYTES ||
        !window.subarray(0, SEGMENT_HEADER_BYTES).equals(SEGMENT_MAGIC)
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
        if (at + RECORD_HEADER_BYTES > windowEnd && windowEnd < size) fill(at, 0);
        let check = checkRecord(window, at - windowStart, windowEnd - windowStart);
        if (check === RecordCheck.Truncated && windowEnd < size) {
          // The record runs past the window: read from its start, all of it.
          fill(at, RECORD_HEADER_BYTES + checked.payloadBytes);
          check = checkRecord(window, 0, windowEnd - windowStart);
        }
        if (check === RecordCheck.Valid) {
          const payloadBytes = checked.payloadBytes;
          const start = at - windowStart + RECORD_HEADER_BYTES;
          const type = window[at - windowStart + 8]!;
          visitor.onRecord(type, window, start, start + payloadBytes, segment, windowStart + start);
          report.records++;
          at += RECORD_HEADER_BYTES + payloadBytes;
          continue;
        }
        // Damage (rare): search the rest of the segment for the next valid record.
        if (windowStart !== at || windowEnd < size) fill(at, size - at);
        const found = findNextRecord(window, 1, windowEnd - windowStart);
        const next = found < 0 ? -1 : windowStart + found;
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
    // While failing, only the probe runs cycles: a full disk must not turn into a busy loop.
    if (!this.isSyncRequested || this.isCycleRunning || this.isFailing) return;
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
    if (count > 0 || segment === this.activeSegment) return;
    if (!this.files.has(segment)) {
      // A segment a failed cycle threw away: its last lost record is gone.
      this.liveCount.delete(segment);
      this.liveBytes.delete(segment);
      return;
    }
    this.deletableAfterSeq.set(segment, this.appendSeq);
    // Nothing left to make durable first: delete now, not at the next cycle (there may be none).
    if (this.appendSeq <= this.durableSeq) this.scheduleCollect();
  }

  liveRecordsIn(segment: number): number {
    return this.liveCount.get(segment) ?? 0;
  }

  // ---------------------------------------------------------------- cycles

  private startSegment(file: SegmentFile): void {
    const segment = file.segment;
    this.files.set(segment, file);
    this.active = file;
    this.activeSegment = segment;
    this.nextSegment = segment + 1;
    this.batchFilePosition = 0;
    SEGMENT_MAGIC.copy(this.batch, 0);
    this.batchBytes = SEGMENT_HEADER_BYTES;
    this.hasNewSegment = true;
  }

  /** Seals the active segment and starts the next; false when no new file can be created. */
  private roll(): boolean {
    let file: SegmentFile;
    try {
      file = this.storage.open(this.nextSegment, true);
    } catch (error) {
      // A full disk may refuse even an empty file: the active segment grows past its size
      // (a soft limit) and the cycle that writes it fails or not on its own.
      if (!this.isFailing) {
        process.emitWarning(`warren log: could not start a segment: ${(error as Error).message}`);
      }
      return false;
    }
    const sealed = this.active;
    this.sealedWrites.push({
      file: sealed,
      bytes: this.batch.subarray(0, this.batchBytes),
      position: this.batchFilePosition,
    });
    this.batch = Buffer.allocUnsafe(BATCH_INITIAL_BYTES);
    if ((this.liveCount.get(sealed.segment) ?? 0) === 0)
      this.deletableAfterSeq.set(sealed.segment, this.appendSeq);
    this.startSegment(file);
    return true;
  }

  private onLazyFlush(): void {
    this.timer = null;
    if (this.appendSeq > this.durableSeq && !this.isCycleRunning && !this.isFailing)
      void this.cycle();
  }

  private onIntervalTick(): void {
    if (this.appendSeq > this.durableSeq && !this.isCycleRunning && !this.isFailing)
      void this.cycle();
  }

  private onProbe(): void {
    if (!this.isCycleRunning && !this.isClosed) void this.cycle();
  }

  private async cycle(): Promise<void> {
    if (this.isCycleRunning) return;
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
    // Where the durable bytes end: the first write of this cycle starts there.
    const goodFile = writes[0]?.file ?? this.active;
    const goodSizeBytes = writes[0]?.position ?? this.batchFilePosition;
    try {
      const repairFile = this.repairFile;
      if (repairFile !== null) {
        await repairFile.truncate(this.repairSizeBytes);
        this.repairFile = null;
      }
      // While failing, a write must first prove there is room for a whole batch: records that
      // would just fit do not clear the alarm only to fail the next batch (no flapping).
      if (this.isFailing) await this.probe(goodFile, goodSizeBytes);
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
      // A full disk or an I/O error. Nothing of this cycle is confirmed, and a failed fdatasync
      // is never retried for the same bytes: they are cut off and written again (if at all) as
      // new records after the owner has failed the old ones.
      this.isCycleRunning = false;
      this.rewind(goodFile, goodSizeBytes);
      this.onWriteFailed(error as Error);
      return;
    }
    if (this.isFailing) {
      this.isFailing = false;
      if (this.probeTimer !== null) clearInterval(this.probeTimer);
      this.probeTimer = null;
      this.onWriteRecovered();
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

  /**
   * After a failed cycle: forgets every record not yet durable and goes back to where the
   * durable bytes end (`file` at `sizeBytes`). Segments started since are thrown away; the file
   * is cut back by the next cycle before it writes, so no partial record stays where later
   * records follow. If the cut fails too, that cycle fails the same way.
   */
  private rewind(file: SegmentFile, sizeBytes: number): void {
    for (const [segment, later] of this.files) {
      if (segment <= file.segment) continue;
      this.files.delete(segment);
      this.deletableAfterSeq.delete(segment);
      if ((this.liveCount.get(segment) ?? 0) === 0) {
        this.liveCount.delete(segment);
        this.liveBytes.delete(segment);
      }
      later.close();
      this.removals = this.removals
        .then(() => this.storage.remove(segment))
        .catch((error: Error) => this.onRemoveError(segment, error));
    }
    this.sealedWrites = [];
    this.active = file;
    this.activeSegment = file.segment;
    this.deletableAfterSeq.delete(file.segment);
    this.repairFile = file;
    if (sizeBytes < SEGMENT_HEADER_BYTES) {
      // Not even the header was durable: start the file again.
      this.repairSizeBytes = 0;
      this.batchFilePosition = 0;
      SEGMENT_MAGIC.copy(this.batch, 0);
      this.batchBytes = SEGMENT_HEADER_BYTES;
    } else {
      this.repairSizeBytes = sizeBytes;
      this.batchFilePosition = sizeBytes;
      this.batchBytes = 0;
    }
    this.hasNewSegment = true;
    this.lastSegment = file.segment;
    this.lastPayloadOffset = 0;
    if (!this.isFailing && !this.isClosing) {
      this.probeTimer = setInterval(() => this.onProbe(), PROBE_INTERVAL_MS);
      this.probeTimer.unref();
    }
    this.isFailing = true;
  }

  /**
   * Writes a full batch of zeros at the end of `file`, syncs, and cuts them off: whether the disk
   * takes writes again (zeros never parse as a record, should a crash leave them).
   */
  private async probe(file: SegmentFile, at: number): Promise<void> {
    await file.write([Buffer.alloc(this.options.batchBytesMax)], at);
    await file.sync();
    await file.truncate(at);
  }

  // ---------------------------------------------------------------- deletion and compaction

  private onRemoveError(segment: number, error: NodeJS.ErrnoException): void {
    // Already gone is what we wanted; anything else costs disk, not correctness.
    if (error.code === 'ENOENT') return;
    process.emitWarning(`warren log: could not delete segment ${segment}: ${error.message}`);
  }

  private scheduleCollect(): void {
    if (this.isCollectScheduled) return;
    this.isCollectScheduled = true;
    setImmediate(() => {
      this.isCollectScheduled = false;
      if (!this.isClosed && !this.isCycleRunning && !this.isFailing) this.collectGarbage();
    });
  }

  /**
   * Arms the idle check when space could be given back: if no cycle runs for deadSegmentIdleMs,
   * a mostly dead active segment is sealed and the oldest segment, if mostly dead, compacted
   * whatever the log's size, so the next cycle deletes them. Under load this waits (no file
   * churn per cycle): dead bytes go when segments fill and compaction starts, as before.
   */
  private considerIdleCompaction(): void {
    if (this.idleTimer !== null || this.isClosing || !this.hasIdleWork()) return;
    this.idleSinceCycles = this.syncCycles;
    this.idleTimer = setTimeout(() => this.onIdle(), this.options.deadSegmentIdleMs);
    this.idleTimer.unref();
  }

  private onIdle(): void {
    this.idleTimer = null;
    if (this.isClosed || this.isFailing || this.isCycleRunning || !this.hasIdleWork()) return;
    if (this.syncCycles !== this.idleSinceCycles) {
      this.considerIdleCompaction();
      return;
    }
    if (this.isActiveMostlyDead() && !this.roll()) return;
    const oldest = this.oldestSealedSegment();
    if (oldest >= 0 && this.isMostlyDead(oldest) && oldest !== this.idleCompactedSegment) {
      this.idleCompactedSegment = oldest;
      this.onCompact?.(oldest);
    }
    this.isSyncRequested = true;
    void this.cycle();
  }

  private hasIdleWork(): boolean {
    if (this.appendSeq !== this.durableSeq) return false;
    if (this.isActiveMostlyDead()) return true;
    const oldest = this.oldestSealedSegment();
    return oldest >= 0 && this.isMostlyDead(oldest) && oldest !== this.idleCompactedSegment;
  }

  /** Whether the active segment is big enough to be worth a new file and mostly dead. */
  private isActiveMostlyDead(): boolean {
    const bytes = this.batchFilePosition + this.batchBytes;
    return (
      bytes >= Math.min(DEAD_SEGMENT_MIN_BYTES, this.options.segmentBytesMax >> 2) &&
      (this.liveBytes.get(this.activeSegment) ?? 0) * 2 < bytes
    );
  }

  /** Whether more than half of a sealed segment is dead (live records stay in it). */
  private isMostlyDead(segment: number): boolean {
    const file = this.files.get(segment)!;
    return (
      (this.liveCount.get(segment) ?? 0) > 0 &&
      (this.liveBytes.get(segment) ?? 0) * 2 < file.sizeBytes
    );
  }

  private oldestSealedSegment(): number {
    let oldest = -1;
    for (const segment of this.files.keys()) {
      if (segment !== this.activeSegment && (oldest < 0 || segment < oldest)) oldest = segment;
    }
    return oldest;
  }

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
        .catch((error: Error) => this.onRemoveError(segment, error));
    }
    this.considerCompaction(segments);
    this.considerIdleCompaction();
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
    this.isClosing = true;
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.probeTimer = null;
    this.idleTimer = null;
    while (this.isCycleRunning) await new Promise((resolve) => setImmediate(resolve));
    // One last attempt; a failing log keeps what it could not write out of the files.
    if (this.appendSeq > this.durableSeq || this.sealedWrites.length > 0 || this.batchBytes > 0) {
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
