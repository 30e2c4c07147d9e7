// Loads RabbitMQ's definitions JSON (as `rabbitmqctl export_definitions` or the management API
// writes it): users with their password hashes, vhosts, permissions, policies, operator policies
// and vhost limits (runtime parameters), exchanges, queues and bindings. Network thread only, at start-up. Entries are applied in dependency order so a file
// exported from RabbitMQ loads unchanged.

import type { FieldTable } from '../codec/index.js';
import { type AccessControl, isHashingAlgorithm } from './access-control.js';
import { hashNewPasswordSync } from './password-hashing.js';
import { isExchangeType, QueueRecord } from './exchange.js';
import type { Policy } from './policies.js';
import type { QueueFlags } from './queue-lifecycle.js';
import type { VhostLimits } from './vhost-limits.js';
import type { VirtualHost } from './vhost.js';

/** What loading definitions changes: users, vhosts, policies, limits, queues. */
export interface DefinitionsTarget {
  readonly access: AccessControl;
  readonly vhosts: ReadonlyMap<string, VirtualHost>;
  addVhost(name: string): VirtualHost;
  setPolicy(policy: Policy): string | null;
  setOperatorPolicy(policy: Policy): string | null;
  setVhostLimits(vhostName: string, limits: VhostLimits): string | null;
  createQueue(vhost: VirtualHost, name: string, flags: QueueFlags, args: FieldTable): QueueRecord;
}

type PolicyJson = NonNullable<Definitions['policies']>[number];

/** A policy as RabbitMQ's definitions and API write it. */
export function policyJson(policy: Policy): PolicyJson {
  return {
    vhost: policy.vhost,
    name: policy.name,
    pattern: policy.pattern,
    'apply-to': policy.applyTo,
    definition: policy.definition,
    priority: policy.priority,
  };
}

/** A policy from RabbitMQ's JSON; apply-to defaults to all and priority to 0, as there. */
export function policyFromJson(json: PolicyJson): Policy {
  return {
    vhost: json.vhost,
    name: json.name,
    pattern: json.pattern,
    applyTo: (json['apply-to'] ?? 'all') as Policy['applyTo'],
    priority: json.priority ?? 0,
    definition: json.definition,
  };
}

/** An operator policy as RabbitMQ exports it: an `operator_policy` runtime parameter. */
export function operatorPolicyParameter(policy: Policy) {
  const { vhost, name, ...value } = policyJson(policy);
  return { vhost, component: 'operator_policy', name, value };
}

/** A vhost's limits as RabbitMQ exports them: the `vhost-limits` parameter named "limits". */
export function vhostLimitsParameter(vhost: string, limits: VhostLimits) {
  return { vhost, component: 'vhost-limits', name: 'limits', value: limits };
}

export interface Definitions {
  users?: {
    name: string;
    password_hash?: string;
    password?: string;
    hashing_algorithm?: string;
    tags?: string[] | string;
  }[];
  vhosts?: { name: string }[];
  permissions?: { user: string; vhost: string; configure: string; write: string; read: string }[];
  exchanges?: {
    name: string;
    vhost: string;
    type: string;
    durable?: boolean;
    auto_delete?: boolean;
    internal?: boolean;
    arguments?: FieldTable;
  }[];
  queues?: {
    name: string;
    vhost: string;
    durable?: boolean;
    auto_delete?: boolean;
    arguments?: FieldTable;
  }[];
  policies?: {
    vhost: string;
    name: string;
    pattern: string;
    'apply-to'?: string;
    definition: Record<string, unknown>;
    priority?: number;
  }[];
  /** Runtime parameters; Warren knows the `vhost-limits` component (named "limits"). */
  parameters?: {
    vhost: string;
    component: string;
    name: string;
    value: unknown;
  }[];
  bindings?: {
    source: string;
    vhost: string;
    destination: string;
    destination_type: 'queue' | 'exchange';
    routing_key?: string;
    arguments?: FieldTable;
  }[];
}

/** Applies definitions; throws an Error naming the first entry that cannot be applied. */
export function loadDefinitions(target: DefinitionsTarget, definitions: Definitions): void {
  for (const vhost of definitions.vhosts ?? []) target.addVhost(vhost.name);
  for (const user of definitions.users ?? []) {
    const tags =
      typeof user.tags === 'string'
        ? user.tags.split(',').filter((tag) => tag !== '')
        : (user.tags ?? []);
    if (user.password !== undefined) {
      // scrypt, synchronously (~30 ms a user): plain passwords in definitions are rare.
      target.access.putUser({ name: user.name, ...hashNewPasswordSync(user.password), tags });
      continue;
    }
    const algorithm = user.hashing_algorithm ?? 'rabbit_password_hashing_sha256';
    if (!isHashingAlgorithm(algorithm)) {
      throw new Error(
        `definitions: user '${user.name}' has unsupported hashing_algorithm '${algorithm}'`,
      );
    }
    target.access.putUser({
      name: user.name,
      passwordHash: user.password_hash ?? '',
      hashingAlgorithm: algorithm,
      tags,
    });
  }
  for (const permission of definitions.permissions ?? []) {
    if (!target.vhosts.has(permission.vhost)) {
      throw new Error(
        `definitions: permission for user '${permission.user}' names unknown vhost '${permission.vhost}'`,
      );
    }
    target.access.setPermission(permission.vhost, permission.user, {
      configure: permission.configure,
      write: permission.write,
      read: permission.read,
    });
  }
  for (const policy of definitions.policies ?? []) {
    if (!target.vhosts.has(policy.vhost))
      throw new Error(`definitions: policy '${policy.name}' names unknown vhost '${policy.vhost}'`);
    const error = target.setPolicy(policyFromJson(policy));
    if (error !== null) throw new Error(`definitions: policy '${policy.name}': ${error}`);
  }
  // Other components (federation, shovels) are RabbitMQ plugins' and are skipped.
  for (const parameter of definitions.parameters ?? []) {
    const value = parameter.value;
    if (parameter.component === 'operator_policy') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new Error(`definitions: operator policy '${parameter.name}' is not an object`);
      }
      const json = value as Omit<PolicyJson, 'vhost' | 'name'>;
      const error = target.setOperatorPolicy(
        policyFromJson({ ...json, vhost: parameter.vhost, name: parameter.name }),
      );
      if (error !== null)
        throw new Error(`definitions: operator policy '${parameter.name}': ${error}`);
      continue;
    }
    if (parameter.component !== 'vhost-limits') continue;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`definitions: vhost-limits for vhost '${parameter.vhost}' is not an object`);
    }
    const error = target.setVhostLimits(parameter.vhost, value as VhostLimits);
    if (error !== null) throw new Error(`definitions: vhost-limits: ${error}`);
  }
  for (const exchange of definitions.exchanges ?? []) {
    const vhost = target.vhosts.get(exchange.vhost);
    if (vhost === undefined)
      throw new Error(
        `definitions: exchange '${exchange.name}' names unknown vhost '${exchange.vhost}'`,
      );
    if (exchange.name === '' || exchange.name.startsWith('amq.')) continue;
    if (!isExchangeType(exchange.type)) {
      throw new Error(
        `definitions: exchange '${exchange.name}' has unsupported type '${exchange.type}'`,
      );
    }
    vhost.declareExchange(
      exchange.name,
      exchange.type,
      {
        isDurable: exchange.durable ?? true,
        isAutoDelete: exchange.auto_delete ?? false,
        isInternal: exchange.internal ?? false,
      },
      exchange.arguments ?? {},
    );
  }
  for (const queue of definitions.queues ?? []) {
    const vhost = target.vhosts.get(queue.vhost);
    if (vhost === undefined)
      throw new Error(`definitions: queue '${queue.name}' names unknown vhost '${queue.vhost}'`);
    if (vhost.queues.has(queue.name)) continue;
    target.createQueue(
      vhost,
      queue.name,
      {
        isDurable: queue.durable ?? true,
        isAutoDelete: queue.auto_delete ?? false,
        ownerConnectionId: 0,
      },
      queue.arguments ?? {},
    );
  }
  for (const binding of definitions.bindings ?? []) {
    const vhost = target.vhosts.get(binding.vhost);
    if (vhost === undefined)
      throw new Error(
        `definitions: binding from '${binding.source}' names unknown vhost '${binding.vhost}'`,
      );
    const source = vhost.exchanges.get(binding.source);
    const destination =
      binding.destination_type === 'queue'
        ? vhost.queues.get(binding.destination)
        : vhost.exchanges.get(binding.destination);
    if (source === undefined || destination === undefined) {
      throw new Error(
        `definitions: binding ${binding.source} -> ${binding.destination} names a missing exchange or queue`,
      );
    }
    vhost.bind(
      source,
      destination as QueueRecord,
      binding.routing_key ?? '',
      binding.arguments ?? {},
    );
  }
}
