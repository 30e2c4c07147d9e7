// The segmented append-only log: storage (files or memory), record format, group commit.
// It knows nothing of AMQP: a record is a type plus opaque bytes at an offset.

export {
  DEFAULT_LOG_OPTIONS,
  type Corruption,
  type FsyncMode,
  type LogOptions,
  type RecoveryReport,
  type RecoveryVisitor,
  SegmentedLog,
  SYNC_MS_BUCKET_BOUNDS,
} from './segmented-log.js';
export {
  FaultyStorage,
  FileStorage,
  MemoryStorage,
  type SegmentFile,
  type Storage,
  type StorageFaults,
} from './storage.js';
export { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './record-format.js';
