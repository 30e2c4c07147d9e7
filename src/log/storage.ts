// Where a log's segments live: a directory of files (FileStorage) or memory (MemoryStorage, for
// contract tests and crash simulation). The log owns one Storage on one thread. Writes and syncs
// are asynchronous (libuv's thread pool, off the event loop); creating a segment and reading a
// record back are synchronous, because the writer must know a record's place the moment it
// appends it and a delivery must have its body when it goes out.

import {
  close as closeDescriptor,
  closeSync,
  fdatasync,
  fstatSync,
  fsync,
  ftruncate,
  mkdirSync,
  open as openDirectory,
  openSync,
  readdirSync,
  readSync,
  unlink,
  writev,
} from 'node:fs';
import { join } from 'node:path';

export interface SegmentFile {
  readonly segment: number;
  /** Bytes the file holds now (written, not necessarily synced). */
  readonly sizeBytes: number;
  /** Writes the chunks back to back at `position` (always the current end). */
  write(chunks: readonly Buffer[], position: number): Promise<void>;
  /** Makes everything written so far durable (fdatasync). */
  sync(): Promise<void>;
  /** Reads `length` bytes at `position` into `target`; returns bytes read. */
  readSync(target: Buffer, targetOffset: number, length: number, position: number): number;
  /** Cuts the file to `sizeBytes` and makes that durable (recovery of a torn tail). */
  truncate(sizeBytes: number): Promise<void>;
  close(): void;
}

export interface Storage {
  /** Segment numbers present, ascending. */
  list(): number[];
  /** Opens a segment; creates it empty when `isNew`. */
  open(segment: number, isNew: boolean): SegmentFile;
  /** Deletes a closed segment and makes the deletion durable. */
  remove(segment: number): Promise<void>;
  /** Makes newly created segment files durable in the directory. */
  syncDirectory(): Promise<void>;
}

const SEGMENT_SUFFIX = '.wlog';

function segmentFileName(segment: number): string {
  return `${String(segment).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

function callback(resolve: () => void, reject: (error: Error) => void) {
  return (error: NodeJS.ErrnoException | null) => (error === null ? resolve() : reject(error));
}

class DiskSegmentFile implements SegmentFile {
  readonly segment: number;
  sizeBytes: number;
  private readonly descriptor: number;

  constructor(segment: number, descriptor: number, sizeBytes: number) {
    this.segment = segment;
    this.descriptor = descriptor;
    this.sizeBytes = sizeBytes;
  }

  write(chunks: readonly Buffer[], position: number): Promise<void> {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    this.sizeBytes = Math.max(this.sizeBytes, position + bytes);
    return writeAll(this.descriptor, chunks, position, bytes);
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.descriptor, callback(resolve, reject)));
  }

  readSync(target: Buffer, targetOffset: number, length: number, position: number): number {
    return readSync(this.descriptor, target, targetOffset, length, position);
  }

  truncate(sizeBytes: number): Promise<void> {
    this.sizeBytes = sizeBytes;
    return new Promise<void>((resolve, reject) =>
      ftruncate(this.descriptor, sizeBytes, callback(resolve, reject)),
    ).then(() => this.sync());
  }

  close(): void {
    closeSync(this.descriptor);
  }
}

/** writev until every byte is down (a short write continues where it stopped). */
function writeAll(
  descriptor: number,
  chunks: readonly Buffer[],
  position: number,
  bytes: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    writev(descriptor, chunks as Buffer[], position, (error, written) => {
      if (error !== null) return reject(error);
      if (written === bytes) return resolve();
      const rest = Buffer.concat(chunks as Buffer[]).subarray(written);
      writeAll(descriptor, [rest], position + written, rest.length).then(resolve, reject);
    });
  });
}

export class FileStorage implements Storage {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
    mkdirSync(directory, { recursive: true });
  }

  list(): number[] {
    return readdirSync(this.directory)
      .filter((name) => name.endsWith(SEGMENT_SUFFIX))
      .map((name) => Number(name.slice(0, -SEGMENT_SUFFIX.length)))
      .filter((segment) => Number.isSafeInteger(segment))
      .sort((left, right) => left - right);
  }

  open(segment: number, isNew: boolean): SegmentFile {
    const path = join(this.directory, segmentFileName(segment));
    const descriptor = openSync(path, isNew ? 'wx+' : 'r+');
    return new DiskSegmentFile(segment, descriptor, isNew ? 0 : fstatSync(descriptor).size);
  }

  remove(segment: number): Promise<void> {
    const path = join(this.directory, segmentFileName(segment));
    return new Promise<void>((resolve, reject) => unlink(path, callback(resolve, reject))).then(
      () => this.syncDirectory(),
    );
  }

  syncDirectory(): Promise<void> {
    return new Promise((resolve, reject) => {
      openDirectory(this.directory, 'r', (error, descriptor) => {
        if (error !== null) return reject(error);
        fsync(descriptor, (syncError) => {
          closeDescriptor(descriptor, () => (syncError === null ? resolve() : reject(syncError)));
        });
      });
    });
  }
}

/**
 * Segments in memory. Each keeps what was synced apart from what was only written, so a test
 * can crash it: `crashed()` returns the storage a restart would find, with every synced byte and
 * a chosen prefix of the unsynced ones (a torn write).
 */
export class MemoryStorage implements Storage {
  private readonly segments = new Map<number, MemorySegment>();

  list(): number[] {
    return [...this.segments.keys()].sort((left, right) => left - right);
  }

  open(segment: number, isNew: boolean): SegmentFile {
    let file = this.segments.get(segment);
    if (isNew) {
      if (file !== undefined) throw new Error(`segment ${segment} exists`);
      file = new MemorySegment(segment);
      this.segments.set(segment, file);
    }
    if (file === undefined) throw new Error(`segment ${segment} does not exist`);
    return file;
  }

  async remove(segment: number): Promise<void> {
    this.segments.delete(segment);
  }

  async syncDirectory(): Promise<void> {}

  /** What a restart finds: synced bytes, plus `keepUnsynced(segment, bytes)` of the unsynced tail. */
  crashed(
    keepUnsynced: (segment: number, unsyncedBytes: number) => number = () => 0,
  ): MemoryStorage {
    const after = new MemoryStorage();
    for (const [segment, file] of this.segments) {
      const copy = new MemorySegment(segment);
      const unsynced = file.bytes.subarray(file.syncedBytes);
      const kept = Math.max(0, Math.min(unsynced.length, keepUnsynced(segment, unsynced.length)));
      copy.bytes = Buffer.concat([
        file.bytes.subarray(0, file.syncedBytes),
        unsynced.subarray(0, kept),
      ]);
      copy.syncedBytes = copy.bytes.length;
      after.segments.set(segment, copy);
    }
    return after;
  }

  /** Direct access for corruption tests. */
  bytesOf(segment: number): Buffer {
    const file = this.segments.get(segment);
    if (file === undefined) throw new Error(`segment ${segment} does not exist`);
    return file.bytes;
  }
}

class MemorySegment implements SegmentFile {
  readonly segment: number;
  bytes = Buffer.alloc(0);
  syncedBytes = 0;

  constructor(segment: number) {
    this.segment = segment;
  }

  get sizeBytes(): number {
    return this.bytes.length;
  }

  async write(chunks: readonly Buffer[], position: number): Promise<void> {
    if (position !== this.bytes.length)
      throw new Error(`write at ${position}, size ${this.bytes.length}`);
    this.bytes = Buffer.concat([this.bytes, ...chunks]);
  }

  async sync(): Promise<void> {
    this.syncedBytes = this.bytes.length;
  }

  readSync(target: Buffer, targetOffset: number, length: number, position: number): number {
    return this.bytes.copy(
      target,
      targetOffset,
      position,
      Math.min(position + length, this.bytes.length),
    );
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.bytes = Buffer.from(this.bytes.subarray(0, sizeBytes));
    this.syncedBytes = Math.min(this.syncedBytes, sizeBytes);
  }

  close(): void {}
}

/** Which operations of a FaultyStorage fail, with which error code (null: they work). */
export interface StorageFaults {
  /** Writes fail after writing half their bytes (a torn write, as ENOSPC can leave). */
  write: string | null;
  sync: string | null;
  truncate: string | null;
}

/**
 * A storage whose segment files fail as `faults` says, for tests of full disks and I/O errors;
 * everything else goes to the storage it wraps. Change `faults` at any time to fail or heal.
 */
export class FaultyStorage implements Storage {
  readonly faults: StorageFaults = { write: null, sync: null, truncate: null };
  private readonly inner: Storage;

  constructor(inner: Storage) {
    this.inner = inner;
  }

  list(): number[] {
    return this.inner.list();
  }

  open(segment: number, isNew: boolean): SegmentFile {
    return new FaultySegmentFile(this.inner.open(segment, isNew), this.faults);
  }

  remove(segment: number): Promise<void> {
    return this.inner.remove(segment);
  }

  syncDirectory(): Promise<void> {
    return this.inner.syncDirectory();
  }
}

function injectedError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected fault`);
  error.code = code;
  return error;
}

class FaultySegmentFile implements SegmentFile {
  readonly segment: number;
  private readonly file: SegmentFile;
  private readonly faults: StorageFaults;

  constructor(file: SegmentFile, faults: StorageFaults) {
    this.segment = file.segment;
    this.file = file;
    this.faults = faults;
  }

  get sizeBytes(): number {
    return this.file.sizeBytes;
  }

  async write(chunks: readonly Buffer[], position: number): Promise<void> {
    const code = this.faults.write;
    if (code === null) return this.file.write(chunks, position);
    const bytes = Buffer.concat(chunks);
    await this.file.write([bytes.subarray(0, bytes.length >> 1)], position);
    throw injectedError(code);
  }

  async sync(): Promise<void> {
    if (this.faults.sync !== null) throw injectedError(this.faults.sync);
    return this.file.sync();
  }

  readSync(target: Buffer, targetOffset: number, length: number, position: number): number {
    return this.file.readSync(target, targetOffset, length, position);
  }

  async truncate(sizeBytes: number): Promise<void> {
    if (this.faults.truncate !== null) throw injectedError(this.faults.truncate);
    return this.file.truncate(sizeBytes);
  }

  close(): void {
    this.file.close();
  }
}
