// Definitions in and out through the management API: the broker's definitions as RabbitMQ's
// JSON (all of them, or one vhost's), and imports applied as the start-up file is applied.
// Network thread only.

import { type Broker, RABBITMQ_VERSION } from './broker.js';
import {
  type Definitions,
  loadDefinitions,
  operatorPolicyParameter,
  policyJson,
  vhostLimitsParameter,
} from './definitions.js';
import { QueueRecord } from './exchange.js';
import {
  asOperation,
  BAD_REQUEST,
  OperationError,
  vhostOrThrow,
  whenDurable,
} from './operation-basics.js';

/** The broker's definitions now, in RabbitMQ's JSON (exclusive queues left out, as RabbitMQ does). */
export function exportDefinitions(
  broker: Broker,
  version: string,
): Definitions & {
  rabbit_version: string;
  product_name: string;
  product_version: string;
} {
  const definitions = {
    rabbit_version: RABBITMQ_VERSION,
    product_name: 'Warren',
    product_version: version,
    users: broker.access.listUsers().map((user) => ({
      name: user.name,
      password_hash: user.passwordHash,
      hashing_algorithm: user.hashingAlgorithm,
      tags: user.tags,
    })),
    vhosts: [...broker.vhosts.keys()].map((name) => ({ name })),
    permissions: broker.access.listPermissions().map((entry) => ({
      user: entry.user,
      vhost: entry.vhost,
      ...entry.permission,
    })),
    parameters: [] as NonNullable<Definitions['parameters']>,
    policies: [] as NonNullable<Definitions['policies']>,
    exchanges: [] as NonNullable<Definitions['exchanges']>,
    queues: [] as NonNullable<Definitions['queues']>,
    bindings: [] as NonNullable<Definitions['bindings']>,
  };
  for (const vhost of broker.vhosts.values()) {
    if (Object.keys(vhost.limits).length > 0) {
      definitions.parameters.push(vhostLimitsParameter(vhost.name, vhost.limits));
    }
    for (const policy of broker.operatorPolicies.get(vhost.name)?.values() ?? []) {
      definitions.parameters.push(operatorPolicyParameter(policy));
    }
    for (const policy of broker.policies.get(vhost.name)?.values() ?? []) {
      definitions.policies.push(policyJson(policy));
    }
    for (const exchange of vhost.exchanges.values()) {
      if (exchange.name === '' || exchange.name.startsWith('amq.')) continue;
      definitions.exchanges.push({
        name: exchange.name,
        vhost: vhost.name,
        type: exchange.type,
        durable: exchange.isDurable,
        auto_delete: exchange.isAutoDelete,
        internal: exchange.isInternal,
        arguments: exchange.arguments,
      });
      for (const binding of exchange.outgoing) {
        const destination = binding.destination;
        if (destination instanceof QueueRecord && destination.isExclusive) continue;
        definitions.bindings.push({
          source: exchange.name,
          vhost: vhost.name,
          destination: destination.name,
          destination_type: destination instanceof QueueRecord ? 'queue' : 'exchange',
          routing_key: binding.routingKey,
          arguments: binding.arguments,
        });
      }
    }
    for (const queue of vhost.queues.values()) {
      if (queue.isExclusive) continue;
      definitions.queues.push({
        name: queue.name,
        vhost: vhost.name,
        durable: queue.isDurable,
        auto_delete: queue.isAutoDelete,
        arguments: queue.arguments,
      });
    }
  }
  return definitions;
}

/** What a vhost's export holds (RabbitMQ's GET /api/definitions/v). */
const VHOST_SCOPED = ['parameters', 'policies', 'queues', 'exchanges', 'bindings'] as const;

/**
 * One vhost's definitions as RabbitMQ exports them: its parameters, policies, queues, exchanges
 * and bindings, without users, vhosts, permissions or a `vhost` field on each entry.
 */
export function exportVhostDefinitions(
  broker: Broker,
  vhostName: string,
  version: string,
): Record<string, unknown> {
  vhostOrThrow(broker, vhostName);
  const all = exportDefinitions(broker, version);
  const scoped: Record<string, unknown> = {
    rabbit_version: all.rabbit_version,
    product_name: all.product_name,
    product_version: all.product_version,
  };
  for (const key of VHOST_SCOPED) {
    const entries = all[key] as { vhost: string }[];
    scoped[key] = entries
      .filter((entry) => entry.vhost === vhostName)
      .map(({ vhost: _vhost, ...rest }) => rest);
  }
  return scoped;
}

/**
 * Imports definitions into one vhost (RabbitMQ's POST /api/definitions/v): every entry lands in
 * that vhost whatever its own `vhost` says; users, vhosts and permissions are ignored.
 */
export function importVhostDefinitions(
  broker: Broker,
  vhostName: string,
  definitions: Definitions,
): Promise<void> {
  vhostOrThrow(broker, vhostName);
  const scoped: Record<string, unknown> = {};
  for (const key of VHOST_SCOPED) {
    const entries: unknown = definitions[key];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new OperationError(BAD_REQUEST, `${key} must be a list`);
    scoped[key] = entries.map((entry: Record<string, unknown>) => ({ ...entry, vhost: vhostName }));
  }
  return importDefinitions(broker, scoped as Definitions);
}

/** Applies definitions as the start-up file is applied; resolves once they are durable. */
export async function importDefinitions(broker: Broker, definitions: Definitions): Promise<void> {
  try {
    asOperation(() => loadDefinitions(broker, definitions));
  } catch (error) {
    if (error instanceof OperationError) throw error;
    throw new OperationError(BAD_REQUEST, (error as Error).message);
  }
  await whenDurable(broker);
}
