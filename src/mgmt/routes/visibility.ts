// Which vhosts, connections and channels a principal may see, as RabbitMQ decides it:
// monitors and administrators see everything, management users their own vhosts and
// connections only.

import type { Connection, VirtualHost } from '../../net/index.js';
import { canSeeVhost } from '../auth.js';
import type { ApiContext } from '../api-types.js';
import { notAuthorised, notFound } from '../http-errors.js';

export function visibleVhosts(context: ApiContext): VirtualHost[] {
  const { broker, principal } = context;
  return [...broker.vhosts.values()].filter((vhost) => canSeeVhost(broker, principal, vhost.name));
}

/** The vhost named by the `:vhost` parameter: 404 if missing, 401 if not the caller's. */
export function visibleVhost(context: ApiContext): VirtualHost {
  const name = context.params['vhost'] ?? '';
  const vhost = context.broker.vhosts.get(name);
  if (vhost === undefined) throw notFound();
  if (!canSeeVhost(context.broker, context.principal, name)) {
    throw notAuthorised('User not authorised to access virtual host');
  }
  return vhost;
}

/** The vhosts a list route covers: one when `:vhost` is given, else every visible one. */
export function listedVhosts(context: ApiContext): VirtualHost[] {
  return context.params['vhost'] === undefined ? visibleVhosts(context) : [visibleVhost(context)];
}

export function visibleConnections(context: ApiContext): Connection[] {
  const { broker, principal } = context;
  const vhostName = context.params['vhost'];
  if (vhostName !== undefined) visibleVhost(context);
  return [...broker.connections.values()].filter(
    (connection) =>
      connection.isOpen &&
      (principal.isMonitor || connection.userName === principal.name) &&
      (vhostName === undefined || connection.vhost?.name === vhostName),
  );
}
