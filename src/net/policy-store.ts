// The policies and operator policies of every vhost: validated, kept in shard 0's log through
// the definition journal, and looked up for queues and exchanges. Network thread only. Applying
// a change to existing queues is the queue lifecycle's job: the store reports which vhost
// changed and the broker wires that to it.

import type { FieldTable } from '../codec/index.js';
import type { DefinitionJournal } from './definition-journal.js';
import type { Exchange } from './exchange.js';
import {
  effectiveQueueArguments,
  type Policy,
  policyForExchange,
  policyForQueue,
  validateOperatorPolicy,
  validatePolicy,
} from './policies.js';

export class PolicyStore {
  /** Policies by vhost, then by name. */
  readonly policies = new Map<string, Map<string, Policy>>();
  /** Operator policies by vhost, then by name. */
  readonly operatorPolicies = new Map<string, Map<string, Policy>>();
  private readonly journal: DefinitionJournal;
  private readonly onChanged: (vhostName: string) => void;

  /** `onChanged` applies a vhost's policies anew after any of them changed. */
  constructor(journal: DefinitionJournal, onChanged: (vhostName: string) => void) {
    this.journal = journal;
    this.onChanged = onChanged;
  }

  /**
   * Adds or replaces a policy and applies it to the vhost's queues at once (their shards rebuild
   * TTL, limits and dead-lettering; a lower length limit drops heads as RabbitMQ does). Returns
   * an error text and changes nothing when the policy is invalid.
   */
  setPolicy(policy: Policy): string | null {
    const error = validatePolicy(policy);
    if (error !== null) return error;
    put(this.policies, policy);
    this.journal.policy(policy, true);
    this.onChanged(policy.vhost);
    return null;
  }

  /** Removes a policy (a missing one is fine) and applies what is left. */
  deletePolicy(vhost: string, name: string): void {
    const policy = this.policies.get(vhost)?.get(name);
    if (policy === undefined) return;
    this.policies.get(vhost)!.delete(name);
    this.journal.policy(policy, false);
    this.onChanged(vhost);
  }

  /**
   * Adds or replaces an operator policy (RabbitMQ's caps on TTLs, expiry and length limits that
   * users' policies and arguments cannot raise) and applies it at once, as setPolicy does.
   */
  setOperatorPolicy(policy: Policy): string | null {
    const error = validateOperatorPolicy(policy);
    if (error !== null) return error;
    put(this.operatorPolicies, policy);
    this.journal.operatorPolicy(policy, true);
    this.onChanged(policy.vhost);
    return null;
  }

  deleteOperatorPolicy(vhost: string, name: string): void {
    const policy = this.operatorPolicies.get(vhost)?.get(name);
    if (policy === undefined) return;
    this.operatorPolicies.get(vhost)!.delete(name);
    this.journal.operatorPolicy(policy, false);
    this.onChanged(vhost);
  }

  /** Removes every policy of a vhost, one by one so the journal forgets each. */
  deleteVhostPolicies(vhost: string): void {
    for (const name of [...(this.policies.get(vhost)?.keys() ?? [])])
      this.deletePolicy(vhost, name);
    for (const name of [...(this.operatorPolicies.get(vhost)?.keys() ?? [])]) {
      this.deleteOperatorPolicy(vhost, name);
    }
    this.policies.delete(vhost);
    this.operatorPolicies.delete(vhost);
  }

  /** A queue's own arguments combined with the policy and operator policy that match it. */
  queueArguments(vhost: string, queueName: string, args: FieldTable): FieldTable {
    return effectiveQueueArguments(
      args,
      policyForQueue(this.policies.get(vhost), queueName),
      policyForQueue(this.operatorPolicies.get(vhost), queueName),
    );
  }

  /** Sets an exchange's policy alternate-exchange (declared ones and new ones alike). */
  applyExchangePolicy(exchange: Exchange): void {
    const policy = policyForExchange(this.policies.get(exchange.vhost), exchange.name);
    const alternate = policy?.definition['alternate-exchange'];
    exchange.policyAlternateExchange = typeof alternate === 'string' ? alternate : null;
  }
}

function put(byVhost: Map<string, Map<string, Policy>>, policy: Policy): void {
  let policies = byVhost.get(policy.vhost);
  if (policies === undefined) byVhost.set(policy.vhost, (policies = new Map<string, Policy>()));
  policies.set(policy.name, policy);
}
