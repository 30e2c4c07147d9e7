// The broker's virtual hosts: adding and deleting them, their limits, and the journaling of
// every durable topology change made inside them (the vhosts report each change here).
// Network thread only. Deleting a vhost reaches everything that lives in it: connections,
// queues, exchanges, permissions, policies, limits.

import type { AccessControl } from './access-control.js';
import type { DefinitionJournal } from './definition-journal.js';
import type { Binding, Exchange, QueueRecord } from './exchange.js';
import type { PolicyStore } from './policy-store.js';
import type { QueueLifecycle } from './queue-lifecycle.js';
import { validateVhostLimits, type VhostLimits } from './vhost-limits.js';
import { type TopologyObserver, VirtualHost } from './vhost.js';

export class VhostRegistry implements TopologyObserver {
  readonly vhosts: Map<string, VirtualHost>;
  private readonly journal: DefinitionJournal;
  private readonly policies: PolicyStore;
  private readonly queues: QueueLifecycle;
  private readonly access: AccessControl;
  /** Closes a deleted vhost's connections with 320 and the given reason. */
  private readonly closeConnections: (vhost: VirtualHost, reason: string) => void;

  constructor(
    vhosts: Map<string, VirtualHost>,
    journal: DefinitionJournal,
    policies: PolicyStore,
    queues: QueueLifecycle,
    access: AccessControl,
    closeConnections: (vhost: VirtualHost, reason: string) => void,
  ) {
    this.vhosts = vhosts;
    this.journal = journal;
    this.policies = policies;
    this.queues = queues;
    this.access = access;
    this.closeConnections = closeConnections;
  }

  /** The vhost of that name, created (and journaled) if it is new. */
  addVhost(name: string): VirtualHost {
    let vhost = this.vhosts.get(name);
    if (vhost === undefined) {
      vhost = new VirtualHost(name, this);
      this.vhosts.set(name, vhost);
      this.journal.vhost(name, true);
    }
    return vhost;
  }

  /**
   * Deletes a vhost as RabbitMQ does: its connections are closed with 320, its queues and
   * exchanges deleted, its permissions cleared. Returns whether it existed. The caller wakes
   * the shards.
   */
  deleteVhost(name: string): boolean {
    const vhost = this.vhosts.get(name);
    if (vhost === undefined) return false;
    this.closeConnections(vhost, `vhost '${name}' is deleted`);
    for (const queue of [...vhost.queues.values()]) this.queues.deleteQueue(queue, null, null);
    for (const exchange of [...vhost.exchanges.values()]) {
      if (exchange.name !== '' && !exchange.name.startsWith('amq.')) {
        vhost.deleteExchange(exchange.name, false);
      }
    }
    // One by one, so the journal forgets each permission with the vhost.
    for (const entry of this.access.listPermissions()) {
      if (entry.vhost === name) this.access.clearPermission(name, entry.user);
    }
    this.policies.deleteVhostPolicies(name);
    this.setVhostLimits(name, {});
    this.vhosts.delete(name);
    this.journal.vhost(name, false);
    return true;
  }

  /**
   * Replaces a vhost's limits ({} clears them); kept in shard 0's log. Returns an error text and
   * changes nothing when they are invalid. Connections and queues already there stay, as in
   * RabbitMQ: a lower limit only refuses new ones.
   */
  setVhostLimits(vhostName: string, limits: VhostLimits): string | null {
    const error = validateVhostLimits(limits);
    if (error !== null) return error;
    const vhost = this.vhosts.get(vhostName);
    if (vhost === undefined) return `no vhost '${vhostName}'`;
    const isEmpty = Object.keys(limits).length === 0;
    if (isEmpty && Object.keys(vhost.limits).length === 0) return null;
    vhost.limits = { ...limits };
    this.journal.vhostLimits(vhostName, isEmpty ? null : vhost.limits);
    return null;
  }

  // TopologyObserver: durable changes go to the definition journal.

  exchangeChanged(exchange: Exchange, isPresent: boolean): void {
    if (isPresent) this.policies.applyExchangePolicy(exchange);
    this.journal.exchange(exchange, isPresent);
  }

  queueChanged(queue: QueueRecord, isPresent: boolean): void {
    this.journal.queue(queue, isPresent);
  }

  bindingChanged(binding: Binding, isPresent: boolean): void {
    this.journal.binding(binding, isPresent);
  }
}
