// /api/policies, /api/operator-policies and /api/vhost-limits: policies (pattern, definition,
// priority, apply-to), operator policies (caps users cannot raise) and a vhost's max-connections
// and max-queues, set through the broker so they apply at once to what matches and are journaled
// like every other definition. Policies are for policymakers and administrators, operator
// policies and limits for administrators, as in RabbitMQ.

import {
  type Broker,
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
  type RouteAccess,
  stringField,
} from '../api-types.js';
import { badRequest, notFound } from '../http-errors.js';
import { listedVhosts, visibleVhost } from './visibility.js';

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

/** Which kind of policy a set of routes serves, and where the broker keeps and sets it. */
interface PolicyKind {
  path: string;
  access: RouteAccess;
  policies(broker: Broker): ReadonlyMap<string, ReadonlyMap<string, Policy>>;
  set(broker: Broker, policy: Policy): string | null;
  delete(broker: Broker, vhost: string, name: string): void;
}

const POLICIES: PolicyKind = {
  path: '/api/policies',
  access: 'policymaker',
  policies: (broker) => broker.policies,
  set: (broker, policy) => broker.setPolicy(policy),
  delete: (broker, vhost, name) => broker.deletePolicy(vhost, name),
};

/** RabbitMQ keeps operator policies for administrators. */
const OPERATOR_POLICIES: PolicyKind = {
  path: '/api/operator-policies',
  access: 'administrator',
  policies: (broker) => broker.operatorPolicies,
  set: (broker, policy) => broker.setOperatorPolicy(policy),
  delete: (broker, vhost, name) => broker.deleteOperatorPolicy(vhost, name),
};

function policiesOf(context: ApiContext, kind: PolicyKind, vhosts: VirtualHost[]) {
  const all = kind.policies(context.broker);
  return vhosts.flatMap((vhost) => [...(all.get(vhost.name)?.values() ?? [])].map(policyJson));
}

function policyRoutesFor(kind: PolicyKind): Route[] {
  const named = (context: ApiContext) => {
    const vhost = visibleVhost(context);
    const name = context.params['name'] ?? '';
    return { vhost, name, policy: kind.policies(context.broker).get(vhost.name)?.get(name) };
  };
  return [
    {
      method: 'GET',
      path: kind.path,
      access: kind.access,
      handle: (context) => ok(policiesOf(context, kind, listedVhosts(context))),
    },
    {
      method: 'GET',
      path: `${kind.path}/:vhost`,
      access: kind.access,
      handle: (context) => ok(policiesOf(context, kind, listedVhosts(context))),
    },
    {
      method: 'GET',
      path: `${kind.path}/:vhost/:name`,
      access: kind.access,
      handle(context) {
        const { policy } = named(context);
        if (policy === undefined) throw notFound();
        return ok(policyJson(policy));
      },
    },
    {
      method: 'PUT',
      path: `${kind.path}/:vhost/:name`,
      access: kind.access,
      async handle(context) {
        const { vhost, name, policy: existing } = named(context);
        if (name === '') throw badRequest('policy name must not be empty');
        const error = kind.set(context.broker, policyFromBody(context, vhost.name, name));
        if (error !== null) throw badRequest(`Validation failed\n\n${error}`);
        await operations.whenDurable(context.broker);
        return createdOrUpdated(existing === undefined);
      },
    },
    {
      method: 'DELETE',
      path: `${kind.path}/:vhost/:name`,
      access: kind.access,
      async handle(context) {
        const { vhost, name, policy } = named(context);
        if (policy === undefined) throw notFound();
        kind.delete(context.broker, vhost.name, name);
        await operations.whenDurable(context.broker);
        return noContent();
      },
    },
  ];
}

export const policyRoutes: Route[] = [
  ...policyRoutesFor(POLICIES),
  ...policyRoutesFor(OPERATOR_POLICIES),
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
