// /api/policies and /api/vhost-limits: policies (pattern, definition, priority, apply-to) and a
// vhost's max-connections and max-queues, set through the broker so they apply at once to what
// matches and are journaled like every other definition. Policies are for policymakers and
// administrators, limits for administrators, as in RabbitMQ.

import {
  isVhostLimitName,
  operations,
  type Policy,
  policyJson,
  type VirtualHost,
} from '../../net/index.js';
import {
  type ApiContext,
  createdOrUpdated,
  jsonBody,
  noContent,
  objectField,
  ok,
  type Route,
  stringField,
} from '../api-types.js';
import { badRequest, notFound } from '../http-errors.js';
import { listedVhosts, visibleVhost } from './visibility.js';

function policiesOf(context: ApiContext, vhosts: VirtualHost[]) {
  return vhosts.flatMap((vhost) =>
    [...(context.broker.policies.get(vhost.name)?.values() ?? [])].map(policyJson),
  );
}

function policyFromBody(context: ApiContext, vhost: string, name: string): Policy {
  const body = jsonBody(context);
  const priority = body['priority'] ?? 0;
  // RabbitMQ's UI sends the priority as text.
  const priorityNumber =
    typeof priority === 'string' && priority !== '' ? Number(priority) : priority;
  if (typeof priorityNumber !== 'number' || !Number.isInteger(priorityNumber)) {
    throw badRequest('priority must be an integer');
  }
  if (body['definition'] === undefined) throw badRequest("missing field 'definition'");
  return {
    vhost,
    name,
    pattern: stringField(body, 'pattern', null),
    applyTo: stringField(body, 'apply-to', 'all') as Policy['applyTo'],
    priority: priorityNumber,
    definition: objectField(body, 'definition'),
  };
}

function limitsView(vhost: VirtualHost) {
  return { vhost: vhost.name, value: vhost.limits };
}

function listLimits(context: ApiContext) {
  const vhosts = listedVhosts(context).filter((vhost) => Object.keys(vhost.limits).length > 0);
  return ok(vhosts.map(limitsView));
}

function limitName(context: ApiContext) {
  const name = context.params['name'] ?? '';
  if (!isVhostLimitName(name)) throw badRequest(`unrecognised vhost limit '${name}'`);
  return name;
}

export const policyRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/policies',
    access: 'policymaker',
    handle: (context) => ok(policiesOf(context, listedVhosts(context))),
  },
  {
    method: 'GET',
    path: '/api/policies/:vhost',
    access: 'policymaker',
    handle: (context) => ok(policiesOf(context, listedVhosts(context))),
  },
  {
    method: 'GET',
    path: '/api/policies/:vhost/:name',
    access: 'policymaker',
    handle(context) {
      const vhost = visibleVhost(context);
      const policy = context.broker.policies.get(vhost.name)?.get(context.params['name'] ?? '');
      if (policy === undefined) throw notFound();
      return ok(policyJson(policy));
    },
  },
  {
    method: 'PUT',
    path: '/api/policies/:vhost/:name',
    access: 'policymaker',
    async handle(context) {
      const vhost = visibleVhost(context);
      const name = context.params['name'] ?? '';
      if (name === '') throw badRequest('policy name must not be empty');
      const policy = policyFromBody(context, vhost.name, name);
      const isNew = context.broker.policies.get(vhost.name)?.get(name) === undefined;
      const error = context.broker.setPolicy(policy);
      if (error !== null) throw badRequest(`Validation failed\n\n${error}`);
      await operations.whenDurable(context.broker);
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/policies/:vhost/:name',
    access: 'policymaker',
    async handle(context) {
      const vhost = visibleVhost(context);
      const name = context.params['name'] ?? '';
      if (context.broker.policies.get(vhost.name)?.get(name) === undefined) throw notFound();
      context.broker.deletePolicy(vhost.name, name);
      await operations.whenDurable(context.broker);
      return noContent();
    },
  },
  { method: 'GET', path: '/api/vhost-limits', access: 'management', handle: listLimits },
  { method: 'GET', path: '/api/vhost-limits/:vhost', access: 'management', handle: listLimits },
  {
    method: 'PUT',
    path: '/api/vhost-limits/:vhost/:name',
    access: 'administrator',
    async handle(context) {
      const vhost = visibleVhost(context);
      const name = limitName(context);
      const value = jsonBody(context)['value'];
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw badRequest('value must be an integer');
      }
      const isNew = vhost.limits[name] === undefined;
      const error = context.broker.setVhostLimits(vhost.name, { ...vhost.limits, [name]: value });
      if (error !== null) throw badRequest(error);
      await operations.whenDurable(context.broker);
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/vhost-limits/:vhost/:name',
    access: 'administrator',
    async handle(context) {
      const vhost = visibleVhost(context);
      const name = limitName(context);
      if (vhost.limits[name] === undefined) throw notFound();
      const { [name]: _removed, ...rest } = vhost.limits;
      context.broker.setVhostLimits(vhost.name, rest);
      await operations.whenDurable(context.broker);
      return noContent();
    },
  },
];
