// /api/exchanges: list (paged), show, declare, delete, publish, and an exchange's bindings as
// source or destination.

import { type MessagePropertiesJson, operations } from '../../net/index.js';
import { requirePermission } from '../auth.js';
import {
  type ApiContext,
  booleanField,
  createdOrUpdated,
  jsonBody,
  noContent,
  objectField,
  ok,
  type Route,
  sampledStats,
  stringField,
} from '../api-types.js';
import { badRequest, notFound } from '../http-errors.js';
import { listReply } from '../pagination.js';
import { bindingView, exchangeView } from '../views.js';
import { listedVhosts, visibleVhost } from './visibility.js';

async function listExchanges(context: ApiContext) {
  const vhosts = listedVhosts(context);
  const stats = await sampledStats(context);
  const items = vhosts.flatMap((vhost) =>
    [...vhost.exchanges.values()].map((exchange) => exchangeView(exchange, context.broker, stats)),
  );
  return ok(listReply(items, context.request.query));
}

/** RabbitMQ's API names the default exchange "amq.default" in paths. */
export function exchangeName(name: string | undefined): string {
  return name === 'amq.default' ? '' : (name ?? '');
}

function namedExchange(context: ApiContext) {
  const exchange = visibleVhost(context).exchanges.get(exchangeName(context.params['name']));
  if (exchange === undefined) throw notFound();
  return exchange;
}

function vhostAndName(context: ApiContext): [string, string] {
  return [context.params['vhost'] ?? '', exchangeName(context.params['name'])];
}

export const exchangeRoutes: Route[] = [
  { method: 'GET', path: '/api/exchanges', access: 'management', handle: listExchanges },
  { method: 'GET', path: '/api/exchanges/:vhost', access: 'management', handle: listExchanges },
  {
    method: 'GET',
    path: '/api/exchanges/:vhost/:name',
    access: 'management',
    async handle(context) {
      const exchange = namedExchange(context);
      return ok(exchangeView(exchange, context.broker, await sampledStats(context)));
    },
  },
  {
    method: 'PUT',
    path: '/api/exchanges/:vhost/:name',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      const body = jsonBody(context);
      requirePermission(context.broker, context.principal, vhost, 'configure', 'exchange', name);
      const isNew = await operations.declareExchange(context.broker, vhost, name, {
        type: stringField(body, 'type', null),
        isDurable: booleanField(body, 'durable', false),
        isAutoDelete: booleanField(body, 'auto_delete', false),
        isInternal: booleanField(body, 'internal', false),
        arguments: objectField(body, 'arguments'),
      });
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/exchanges/:vhost/:name',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      requirePermission(context.broker, context.principal, vhost, 'configure', 'exchange', name);
      const isIfUnused = context.request.query.get('if-unused') === 'true';
      await operations.deleteExchange(context.broker, vhost, name, isIfUnused);
      return noContent();
    },
  },
  {
    method: 'POST',
    path: '/api/exchanges/:vhost/:name/publish',
    access: 'management',
    handle(context) {
      const [vhost, name] = vhostAndName(context);
      const body = jsonBody(context);
      requirePermission(context.broker, context.principal, vhost, 'write', 'exchange', name);
      const payload = stringField(body, 'payload', null);
      const encoding = stringField(body, 'payload_encoding', 'string');
      if (encoding !== 'string' && encoding !== 'base64') {
        throw badRequest('payload_encoding must be string or base64');
      }
      const routed = operations.publish(
        context.broker,
        vhost,
        name,
        stringField(body, 'routing_key', ''),
        objectField(body, 'properties') as MessagePropertiesJson,
        Buffer.from(payload, encoding === 'base64' ? 'base64' : 'utf8'),
      );
      return ok({ routed });
    },
  },
  {
    method: 'GET',
    path: '/api/exchanges/:vhost/:name/bindings/source',
    access: 'management',
    handle: (context) => ok([...namedExchange(context).outgoing].map(bindingView)),
  },
  {
    method: 'GET',
    path: '/api/exchanges/:vhost/:name/bindings/destination',
    access: 'management',
    handle: (context) => ok([...namedExchange(context).incoming].map(bindingView)),
  },
];
