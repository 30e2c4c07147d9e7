// /api/definitions: export and import RabbitMQ's definitions JSON, for the whole broker or
// for one vhost (then without users, vhosts and permissions, and without a vhost field on each
// entry, as RabbitMQ writes it). Administrators only.

import { type Definitions, operations, WARREN_VERSION } from '../../net/index.js';
import { jsonBody, noContent, ok, type Route } from '../api-types.js';
import { visibleVhost } from './visibility.js';

export const definitionRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/definitions',
    access: 'administrator',
    handle: (context) => ok(operations.exportDefinitions(context.broker, WARREN_VERSION)),
  },
  {
    method: 'POST',
    path: '/api/definitions',
    access: 'administrator',
    async handle(context) {
      await operations.importDefinitions(context.broker, jsonBody(context) as Definitions);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/api/definitions/:vhost',
    access: 'administrator',
    handle(context) {
      const vhost = visibleVhost(context);
      return ok(operations.exportVhostDefinitions(context.broker, vhost.name, WARREN_VERSION));
    },
  },
  {
    method: 'POST',
    path: '/api/definitions/:vhost',
    access: 'administrator',
    async handle(context) {
      const vhost = visibleVhost(context);
      const body = jsonBody(context) as Definitions;
      await operations.importVhostDefinitions(context.broker, vhost.name, body);
      return noContent();
    },
  },
];
