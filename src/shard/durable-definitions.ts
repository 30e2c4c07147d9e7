// Reads the durable definitions shard 0's log keeps, without changing the log: for tools that
// export them from a data directory (a broker may be running on it).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileStorage, SegmentedLog } from '../log/index.js';
import { type DefinitionRecord, MessageStore } from './message-store.js';

export async function readDurableDefinitions(dataDir: string): Promise<DefinitionRecord[]> {
  const directory = join(dataDir, 'shards', '0');
  if (!existsSync(directory)) return [];
  let store: MessageStore | null = null;
  await SegmentedLog.open(
    new FileStorage(directory),
    { isReadOnly: true },
    (log) => (store = new MessageStore(log)),
  );
  return [...(store as MessageStore | null)!.definitions.values()].map((entry) => entry.record);
}
