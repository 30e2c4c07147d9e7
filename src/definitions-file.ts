// Edits a RabbitMQ-format definitions file in place: the users, vhosts and permissions the
// `warren users|vhosts|permissions` commands manage. The broker loads the same file at start.
// Passwords are written only as salted hashes (rabbit_password_hashing_sha256).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FieldTable } from './codec/index.js';
import {
  hashNewPasswordSync,
  operatorPolicyParameter,
  policyJson,
  RABBITMQ_VERSION,
  vhostLimitsParameter,
  WARREN_VERSION,
} from './net/index.js';
import type { Definitions, Policy, VhostLimits } from './net/index.js';
import { readDurableDefinitions } from './shard/api.js';

export function readDefinitionsFile(path: string): Definitions {
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as Definitions;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a file. */
export function writeDefinitionsFile(path: string, definitions: Definitions): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(definitions, null, 2)}\n`);
  renameSync(temporary, path);
}

export function putUser(
  definitions: Definitions,
  name: string,
  password: string,
  tags: string[],
): void {
  const users = (definitions.users ??= []).filter((user) => user.name !== name);
  const stored = hashNewPasswordSync(password);
  users.push({
    name,
    password_hash: stored.passwordHash,
    hashing_algorithm: stored.hashingAlgorithm,
    tags,
  });
  definitions.users = users;
}

export function deleteUser(definitions: Definitions, name: string): boolean {
  const before = definitions.users?.length ?? 0;
  definitions.users = (definitions.users ?? []).filter((user) => user.name !== name);
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => permission.user !== name,
  );
  return definitions.users.length !== before;
}

export function putVhost(definitions: Definitions, name: string): void {
  const vhosts = (definitions.vhosts ??= []);
  if (!vhosts.some((vhost) => vhost.name === name)) vhosts.push({ name });
}

export function deleteVhost(definitions: Definitions, name: string): boolean {
  const before = definitions.vhosts?.length ?? 0;
  definitions.vhosts = (definitions.vhosts ?? []).filter((vhost) => vhost.name !== name);
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => permission.vhost !== name,
  );
  return definitions.vhosts.length !== before;
}

export function setPermission(
  definitions: Definitions,
  vhost: string,
  user: string,
  configure: string,
  write: string,
  read: string,
): void {
  const permissions = (definitions.permissions ?? []).filter(
    (permission) => !(permission.user === user && permission.vhost === vhost),
  );
  permissions.push({ user, vhost, configure, write, read });
  definitions.permissions = permissions;
}

export function clearPermission(definitions: Definitions, vhost: string, user: string): boolean {
  const before = definitions.permissions?.length ?? 0;
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => !(permission.user === user && permission.vhost === vhost),
  );
  return definitions.permissions.length !== before;
}

/**
 * Reads the durable definitions a stopped or running broker keeps in `<dataDir>/shards/0`,
 * without changing anything there, and returns them in RabbitMQ's definitions JSON format, with
 * the same header as the management API's export (GET /api/definitions): the RabbitMQ version
 * whose API Warren follows, 3.10.
 */
export async function exportDefinitions(dataDir: string): Promise<Definitions> {
  const records = await readDurableDefinitions(dataDir);
  const definitions: Required<
    Pick<Definitions, 'users' | 'vhosts' | 'permissions' | 'exchanges' | 'queues' | 'bindings'>
  > &
    Pick<Definitions, 'policies' | 'parameters'> & {
      rabbit_version: string;
      product_name: string;
      product_version: string;
    } = {
    rabbit_version: RABBITMQ_VERSION,
    product_name: 'Warren',
    product_version: WARREN_VERSION,
    users: [],
    vhosts: [],
    permissions: [],
    exchanges: [],
    queues: [],
    bindings: [],
  };
  for (const { kind, value } of records) {
    const entry = value as Record<string, unknown>;
    if (kind === 'vhost') definitions.vhosts.push({ name: entry['name'] as string });
    if (kind === 'user') {
      definitions.users.push({
        name: entry['name'] as string,
        password_hash: entry['passwordHash'] as string,
        hashing_algorithm: entry['hashingAlgorithm'] as string,
        tags: entry['tags'] as string[],
      });
    }
    if (kind === 'permission') {
      const { vhost, user, configure, write, read } = entry as Record<string, string>;
      definitions.permissions.push({
        user: user!,
        vhost: vhost!,
        configure: configure!,
        write: write!,
        read: read!,
      });
    }
    if (kind === 'exchange') {
      definitions.exchanges.push({
        name: entry['name'] as string,
        vhost: entry['vhost'] as string,
        type: entry['type'] as string,
        durable: true,
        auto_delete: entry['autoDelete'] as boolean,
        internal: entry['internal'] as boolean,
        arguments: entry['arguments'] as FieldTable,
      });
    }
    if (kind === 'queue') {
      definitions.queues.push({
        name: entry['name'] as string,
        vhost: entry['vhost'] as string,
        durable: true,
        auto_delete: entry['autoDelete'] as boolean,
        arguments: entry['arguments'] as FieldTable,
      });
    }
    // The journal keeps policies as the broker's Policy objects.
    if (kind === 'policy') (definitions.policies ??= []).push(policyJson(value as Policy));
    if (kind === 'operator-policy') {
      (definitions.parameters ??= []).push(operatorPolicyParameter(value as Policy));
    }
    if (kind === 'vhost-limits') {
      const { vhost, limits } = value as { vhost: string; limits: VhostLimits };
      (definitions.parameters ??= []).push(vhostLimitsParameter(vhost, limits));
    }
    if (kind === 'binding') {
      definitions.bindings.push({
        source: entry['source'] as string,
        vhost: entry['vhost'] as string,
        destination: entry['destination'] as string,
        destination_type: entry['destinationType'] as 'queue' | 'exchange',
        routing_key: entry['routingKey'] as string,
        arguments: entry['arguments'] as FieldTable,
      });
    }
  }
  return definitions;
}

/**
 * Merges a definitions file into the one the broker loads at start (`<dataDir>/definitions.json`
 * by default): entries with the same identity are replaced, the rest kept.
 */
export function importDefinitions(target: Definitions, incoming: Definitions): Definitions {
  const merge = <T>(
    existing: T[] | undefined,
    added: T[] | undefined,
    key: (item: T) => string,
  ): T[] => {
    const byKey = new Map<string, T>();
    for (const item of existing ?? []) byKey.set(key(item), item);
    for (const item of added ?? []) byKey.set(key(item), item);
    return [...byKey.values()];
  };
  return {
    ...target,
    users: merge(target.users, incoming.users, (user) => user.name),
    vhosts: merge(target.vhosts, incoming.vhosts, (vhost) => vhost.name),
    permissions: merge(
      target.permissions,
      incoming.permissions,
      (entry) => `${entry.vhost}\u0000${entry.user}`,
    ),
    exchanges: merge(
      target.exchanges,
      incoming.exchanges,
      (entry) => `${entry.vhost}\u0000${entry.name}`,
    ),
    queues: merge(target.queues, incoming.queues, (entry) => `${entry.vhost}\u0000${entry.name}`),
    policies: merge(
      target.policies,
      incoming.policies,
      (entry) => `${entry.vhost}\u0000${entry.name}`,
    ),
    parameters: merge(
      target.parameters,
      incoming.parameters,
      (entry) => `${entry.vhost}\u0000${entry.component}\u0000${entry.name}`,
    ),
    bindings: merge(target.bindings, incoming.bindings, (entry) =>
      [
        entry.vhost,
        entry.source,
        entry.destination_type,
        entry.destination,
        entry.routing_key ?? '',
        JSON.stringify(entry.arguments ?? {}),
      ].join('\u0000'),
    ),
  };
}
