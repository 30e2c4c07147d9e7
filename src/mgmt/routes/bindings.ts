// /api/bindings: list every binding (with the default exchange's implicit ones, as RabbitMQ
// lists them), the bindings between two ends, and create or delete one. A binding is named by
// its properties_key, which the list gives.

import { operations } from '../../net/index.js';
import { requirePermission } from '../auth.js';
import {
  type ApiContext,
  jsonBody,
  noContent,
  objectField,
  ok,
  type Route,
  stringField,
} from '../api-types.js';
import { notFound } from '../http-errors.js';
import { bindingView, defaultBindingView, propertiesKey } from '../views.js';
import { exchangeName } from './exchanges.js';
import { listedVhosts, visibleVhost } from './visibility.js';

function listBindings(context: ApiContext) {
  const items = listedVhosts(context).flatMap((vhost) => [
    ...[...vhost.queues.values()].map(defaultBindingView),
    ...[...vhost.exchanges.values()].flatMap((exchange) => [...exchange.outgoing].map(bindingView)),
  ]);
  return ok(items);
}

type DestinationType = 'queue' | 'exchange';

/** The bindings from `:source` to `:destination`, as views. */
function bindingsBetween(context: ApiContext, destinationType: DestinationType) {
  const vhost = visibleVhost(context);
  const source = vhost.exchanges.get(exchangeName(context.params['source']));
  const destinationName = context.params['destination'] ?? '';
  const destination =
    destinationType === 'queue'
      ? vhost.queues.get(destinationName)
      : vhost.exchanges.get(destinationName);
  if (source === undefined || destination === undefined) throw notFound();
  return [...source.outgoing]
    .filter((binding) => binding.destination === destination)
    .map(bindingView);
}

function checkBindPermissions(context: ApiContext, destinationType: DestinationType): void {
  const vhost = context.params['vhost'] ?? '';
  const { broker, principal } = context;
  requirePermission(
    broker,
    principal,
    vhost,
    'write',
    destinationType,
    context.params['destination'] ?? '',
  );
  requirePermission(
    broker,
    principal,
    vhost,
    'read',
    'exchange',
    exchangeName(context.params['source']),
  );
}

function routesFor(letter: 'q' | 'e', destinationType: DestinationType): Route[] {
  const between = `/api/bindings/:vhost/e/:source/${letter}/:destination`;
  return [
    {
      method: 'GET',
      path: between,
      access: 'management',
      handle: (context) => ok(bindingsBetween(context, destinationType)),
    },
    {
      method: 'POST',
      path: between,
      access: 'management',
      async handle(context) {
        const body = jsonBody(context);
        checkBindPermissions(context, destinationType);
        const routingKey = stringField(body, 'routing_key', '');
        const args = objectField(body, 'arguments');
        await operations.bind(context.broker, {
          vhost: context.params['vhost'] ?? '',
          source: exchangeName(context.params['source']),
          destinationType,
          destination: context.params['destination'] ?? '',
          routingKey,
          arguments: args,
        });
        return {
          status: 201,
          headers: { Location: encodeURIComponent(propertiesKey(routingKey, args)) },
        };
      },
    },
    {
      method: 'GET',
      path: `${between}/:props`,
      access: 'management',
      handle(context) {
        const found = bindingsBetween(context, destinationType).find(
          (binding) => binding['properties_key'] === context.params['props'],
        );
        if (found === undefined) throw notFound();
        return ok(found);
      },
    },
    {
      method: 'DELETE',
      path: `${between}/:props`,
      access: 'management',
      async handle(context) {
        checkBindPermissions(context, destinationType);
        const found = bindingsBetween(context, destinationType).find(
          (binding) => binding['properties_key'] === context.params['props'],
        );
        if (found === undefined) throw notFound();
        await operations.unbind(context.broker, {
          vhost: context.params['vhost'] ?? '',
          source: exchangeName(context.params['source']),
          destinationType,
          destination: context.params['destination'] ?? '',
          routingKey: found['routing_key'] as string,
          arguments: found['arguments'] as Record<string, unknown>,
        });
        return noContent();
      },
    },
  ];
}

export const bindingRoutes: Route[] = [
  { method: 'GET', path: '/api/bindings', access: 'management', handle: listBindings },
  { method: 'GET', path: '/api/bindings/:vhost', access: 'management', handle: listBindings },
  ...routesFor('q', 'queue'),
  ...routesFor('e', 'exchange'),
];
