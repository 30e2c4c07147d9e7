// Start-up: the definitions shard 0's log kept are rebuilt (vhosts, users, permissions,
// policies, limits, durable exchanges, queues and bindings), then the definitions file is
// loaded and RabbitMQ's defaults filled in, and what recovery found is logged. Network thread
// only, before the listeners hand over any client.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DefinitionRecord, ShardThread } from '../shard/api.js';
import type { Permission, User } from './access-control.js';
import type {
  BindingDefinition,
  ExchangeDefinition,
  QueueDefinition,
} from './definition-journal.js';
import { type Definitions, type DefinitionsTarget, loadDefinitions } from './definitions.js';
import type { NetServices } from './net-services.js';
import type { BrokerOptions } from './options.js';
import type { Policy } from './policies.js';
import type { QueueLifecycle } from './queue-lifecycle.js';
import type { VhostLimits } from './vhost-limits.js';

/** Rebuilds vhosts, users, permissions, durable exchanges, queues and bindings from the log. */
export function restoreDefinitions(
  target: DefinitionsTarget,
  queues: QueueLifecycle,
  shardCount: number,
  records: readonly DefinitionRecord[],
): void {
  const byKind = (kind: string) =>
    records.filter((record) => record.kind === kind).map((record) => record.value);
  for (const value of byKind('vhost')) target.addVhost((value as { name: string }).name);
  for (const value of byKind('user')) target.access.putUser(value as User);
  for (const value of byKind('permission')) {
    const { vhost, user, ...permission } = value as Permission & { vhost: string; user: string };
    target.access.setPermission(vhost, user, permission);
  }
  for (const value of byKind('exchange')) {
    const exchange = value as ExchangeDefinition;
    target
      .addVhost(exchange.vhost)
      .declareExchange(
        exchange.name,
        exchange.type,
        { isDurable: true, isAutoDelete: exchange.autoDelete, isInternal: exchange.internal },
        exchange.arguments,
      );
  }
  for (const value of byKind('policy')) target.setPolicy(value as Policy);
  for (const value of byKind('operator-policy')) target.setOperatorPolicy(value as Policy);
  for (const value of byKind('vhost-limits')) {
    const { vhost, limits } = value as { vhost: string; limits: VhostLimits };
    target.setVhostLimits(vhost, limits);
  }
  for (const value of byKind('queue')) {
    const queue = value as QueueDefinition;
    if (queue.shardIndex >= shardCount) {
      throw new Error(
        `queue '${queue.name}' in vhost '${queue.vhost}' lives in shard ${queue.shardIndex}, but only ${shardCount} shards run: start with --shards ${queue.shardIndex + 1} or more`,
      );
    }
    queues.createQueue(
      target.addVhost(queue.vhost),
      queue.name,
      { isDurable: true, isAutoDelete: queue.autoDelete, ownerConnectionId: 0 },
      queue.arguments,
      { queueId: queue.queueId, shardIndex: queue.shardIndex },
    );
  }
  for (const value of byKind('binding')) {
    const binding = value as BindingDefinition;
    const vhost = target.vhosts.get(binding.vhost);
    const source = vhost?.exchanges.get(binding.source);
    const destination =
      binding.destinationType === 'queue'
        ? vhost?.queues.get(binding.destination)
        : vhost?.exchanges.get(binding.destination);
    if (vhost === undefined || source === undefined || destination === undefined) continue;
    vhost.bind(source, destination, binding.routingKey, binding.arguments);
  }
}

/**
 * Loads the definitions file (an explicit one, else <data dir>/definitions.json when the
 * `warren users ...` commands made one), then RabbitMQ's defaults where nothing says otherwise:
 * the default user as administrator, vhost '/', and that user's permissions on it.
 */
export function loadInitialDefinitions(target: DefinitionsTarget, options: BrokerOptions): void {
  const defaultFile = join(options.dataDir, 'definitions.json');
  const file = options.definitionsFile ?? (existsSync(defaultFile) ? defaultFile : null);
  let definitions: Definitions = {};
  if (file !== null) {
    definitions = JSON.parse(readFileSync(file, 'utf8')) as Definitions;
  }
  loadDefinitions(target, definitions);
  const access = target.access;
  if ((definitions.users ?? []).length === 0 && access.userCount === 0) {
    access.addUserWithPassword(options.defaultUser, options.defaultPassword, ['administrator']);
  }
  if (!target.vhosts.has('/') && (definitions.vhosts ?? []).length === 0) target.addVhost('/');
  if (
    (definitions.permissions ?? []).length === 0 &&
    access.getUser(options.defaultUser) !== undefined
  ) {
    access.setPermission('/', options.defaultUser, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
  }
}

/** One line per shard log recovered (and per damage found), then a summary line. */
export function logRecovery(
  services: NetServices,
  threads: readonly ShardThread[],
  elapsedMs: number,
): void {
  let records = 0;
  let messages = 0;
  for (const thread of threads) {
    const report = thread.ready.report;
    if (report === null) continue;
    records += report.records;
    messages += thread.ready.recoveredMessages;
    services.log('info', 'shard log recovered', {
      shard: thread.shardIndex,
      messages: thread.ready.recoveredMessages,
      segments: report.segments,
      records: report.records,
      bytes: report.bytes,
      tornBytes: report.truncatedBytes,
      ms: report.durationMs,
    });
    for (const corruption of report.corruptions) {
      services.log('error', 'shard log damaged; the records around it were kept', {
        shard: thread.shardIndex,
        segment: corruption.segment,
        offset: corruption.offset,
        reason: corruption.reason,
      });
    }
  }
  let queues = 0;
  for (const vhost of services.vhosts.values()) queues += vhost.queues.size;
  services.log('info', 'recovery done', {
    shards: threads.length,
    messages,
    records,
    durableQueues: queues,
    ms: elapsedMs,
  });
}
