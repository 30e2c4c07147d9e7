// /api/connections, /api/channels and /api/consumers: what clients hold open, and closing a
// connection (320 CONNECTION_FORCED with the X-Reason header's text, as RabbitMQ does).

import { operations } from '../../net/index.js';
import { type ApiContext, noContent, ok, type Route, sampledStats } from '../api-types.js';
import type { StatsDetails } from '../stats-details.js';
import { notAuthorised, notFound } from '../http-errors.js';
import { listReply } from '../pagination.js';
import { channelView, connectionView, consumerView } from '../views.js';
import { listedVhosts, visibleConnections } from './visibility.js';

async function listConnections(context: ApiContext) {
  const connections = visibleConnections(context);
  const stats = await sampledStats(context);
  const items = connections.map((connection) => connectionView(connection, stats));
  return ok(listReply(items, context.request.query));
}

function channelsOf(context: ApiContext, stats: StatsDetails) {
  return visibleConnections(context).flatMap((connection) =>
    [...connection.channels.values()].map((channel) => channelView(connection, channel, stats)),
  );
}

async function listChannels(context: ApiContext) {
  const stats = await sampledStats(context);
  return ok(listReply(channelsOf(context, stats), context.request.query));
}

function listConsumers(context: ApiContext) {
  const vhosts = new Set(listedVhosts(context).map((vhost) => vhost.name));
  const { principal } = context;
  const items = [];
  for (const connection of context.broker.connections.values()) {
    if (!principal.isMonitor && connection.userName !== principal.name) continue;
    for (const channel of connection.channels.values()) {
      for (const consumer of channel.consumers.values()) {
        if (vhosts.has(consumer.queue.vhost))
          items.push(consumerView(connection, channel, consumer));
      }
    }
  }
  return ok(items);
}

function namedConnection(context: ApiContext) {
  const name = context.params['name'] ?? '';
  const connection = [...context.broker.connections.values()].find(
    (each) => each.isOpen && each.name === name,
  );
  if (connection === undefined) throw notFound();
  if (!context.principal.isMonitor && connection.userName !== context.principal.name) {
    throw notAuthorised('Not monitor user');
  }
  return connection;
}

export const clientRoutes: Route[] = [
  { method: 'GET', path: '/api/connections', access: 'management', handle: listConnections },
  {
    method: 'GET',
    path: '/api/vhosts/:vhost/connections',
    access: 'management',
    handle: listConnections,
  },
  {
    method: 'GET',
    path: '/api/connections/:name',
    access: 'management',
    async handle(context) {
      const connection = namedConnection(context);
      return ok(connectionView(connection, await sampledStats(context)));
    },
  },
  {
    method: 'DELETE',
    path: '/api/connections/:name',
    access: 'management',
    handle(context) {
      const connection = namedConnection(context);
      const reason = context.request.headers.get('x-reason') ?? 'Closed via management plugin';
      operations.closeConnection(context.broker, connection.name, reason);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/api/connections/:name/channels',
    access: 'management',
    async handle(context) {
      const connection = namedConnection(context);
      const stats = await sampledStats(context);
      return ok(
        [...connection.channels.values()].map((channel) => channelView(connection, channel, stats)),
      );
    },
  },
  { method: 'GET', path: '/api/channels', access: 'management', handle: listChannels },
  {
    method: 'GET',
    path: '/api/vhosts/:vhost/channels',
    access: 'management',
    handle: listChannels,
  },
  {
    method: 'GET',
    path: '/api/channels/:name',
    access: 'management',
    async handle(context) {
      const stats = await sampledStats(context);
      const found = channelsOf(context, stats).find(
        (channel) => channel['name'] === context.params['name'],
      );
      if (found === undefined) throw notFound();
      return ok(found);
    },
  },
  { method: 'GET', path: '/api/consumers', access: 'management', handle: listConsumers },
  { method: 'GET', path: '/api/consumers/:vhost', access: 'management', handle: listConsumers },
];
