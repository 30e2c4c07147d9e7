// The shard folder's only importable file: what the network thread needs to start shards and
// speak the ring records. Everything crossing threads is plain data typed here.

export * from './records.js';
export {
  startShardThreads,
  stopShardThreads,
  type ShardThread,
  type ShardPoolOptions,
  type ShardReady,
  type ShardLogHealth,
} from './pool.js';
export type { DefinitionRecord } from './message-store.js';
export { readDurableDefinitions } from './durable-definitions.js';
export type { LogOptions, RecoveryReport, FsyncMode } from '../log/index.js';
// The log's defaults are the broker's defaults for its log settings (net/options.ts reads them).
export { DEFAULT_LOG_OPTIONS } from '../log/index.js';
