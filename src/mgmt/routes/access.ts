// /api/vhosts, /api/users, /api/permissions and /api/whoami: the vhosts with their message
// totals, users with their tags and password hashes, and per-vhost permissions. Changes are
// for administrators and are journaled by the broker like those made at start.

import { hashNewPassword, operations, type VirtualHost } from '../../net/index.js';
import {
  type ApiContext,
  createdOrUpdated,
  jsonBody,
  noContent,
  ok,
  type Route,
  stringField,
} from '../api-types.js';
import { badRequest, notFound } from '../http-errors.js';
import { listReply } from '../pagination.js';
import { visibleVhost, visibleVhosts } from './visibility.js';

function vhostView(vhost: VirtualHost, context: ApiContext): Record<string, unknown> {
  const sample = context.sampler.latestSample;
  let ready = 0;
  let unacked = 0;
  for (const queue of vhost.queues.values()) {
    const stats = sample?.queues.get(queue.queueId);
    ready += stats?.ready ?? 0;
    unacked += stats?.unacked ?? 0;
  }
  return {
    name: vhost.name,
    description: '',
    tags: [],
    metadata: { description: '', tags: [] },
    default_queue_type: 'classic',
    tracing: false,
    cluster_state: { [context.broker.options.bind]: 'running' },
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
  };
}

function userView(context: ApiContext, name: string): Record<string, unknown> {
  const user = context.broker.access.getUser(name);
  if (user === undefined) throw notFound();
  return {
    name: user.name,
    password_hash: user.passwordHash,
    hashing_algorithm: user.hashingAlgorithm,
    tags: user.tags,
    limits: {},
  };
}

function permissionViews(context: ApiContext, keep: (vhost: string, user: string) => boolean) {
  return context.broker.access
    .listPermissions()
    .filter((entry) => keep(entry.vhost, entry.user))
    .map((entry) => ({ user: entry.user, vhost: entry.vhost, ...entry.permission }));
}

/** RabbitMQ takes tags as a list or as one comma-separated string. */
function parseTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((tag) => tag.trim())
      .filter((tag) => tag !== '');
  }
  if (Array.isArray(value) && value.every((tag) => typeof tag === 'string')) return value;
  throw badRequest('tags must be a list of strings or a comma-separated string');
}

const HASHING_ALGORITHMS = [
  'rabbit_password_hashing_sha256',
  'rabbit_password_hashing_sha512',
  'rabbit_password_hashing_md5',
  'warren_password_hashing_scrypt',
] as const;

export const accessRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/whoami',
    access: 'management',
    handle: (context) => ok({ name: context.principal.name, tags: context.principal.tags }),
  },
  {
    method: 'GET',
    path: '/api/vhosts',
    access: 'management',
    async handle(context) {
      await context.sampler.latest();
      const items = visibleVhosts(context).map((vhost) => vhostView(vhost, context));
      return ok(listReply(items, context.request.query));
    },
  },
  {
    method: 'GET',
    path: '/api/vhosts/:vhost',
    access: 'management',
    async handle(context) {
      const vhost = visibleVhost(context);
      await context.sampler.latest();
      return ok(vhostView(vhost, context));
    },
  },
  {
    method: 'PUT',
    path: '/api/vhosts/:vhost',
    access: 'administrator',
    async handle(context) {
      jsonBody(context);
      const name = context.params['vhost'] ?? '';
      const isNew = await operations.putVhost(context.broker, name);
      if (isNew) {
        // RabbitMQ's API gives whoever creates a vhost full permissions in it.
        context.broker.access.setPermission(name, context.principal.name, {
          configure: '.*',
          write: '.*',
          read: '.*',
        });
        await operations.whenDurable(context.broker);
      }
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/vhosts/:vhost',
    access: 'administrator',
    async handle(context) {
      await operations.deleteVhost(context.broker, context.params['vhost'] ?? '');
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/api/vhosts/:vhost/permissions',
    access: 'administrator',
    handle(context) {
      const name = visibleVhost(context).name;
      return ok(permissionViews(context, (vhost) => vhost === name));
    },
  },
  {
    method: 'GET',
    path: '/api/users',
    access: 'administrator',
    handle: (context) =>
      ok(context.broker.access.listUsers().map((user) => userView(context, user.name))),
  },
  {
    method: 'GET',
    path: '/api/users/:user',
    access: 'administrator',
    handle: (context) => ok(userView(context, context.params['user'] ?? '')),
  },
  {
    method: 'PUT',
    path: '/api/users/:user',
    access: 'administrator',
    async handle(context) {
      const name = context.params['user'] ?? '';
      const body = jsonBody(context);
      if (name === '') throw badRequest('user name must not be empty');
      const access = context.broker.access;
      const isNew = access.getUser(name) === undefined;
      const tags = parseTags(body['tags']);
      const password = body['password'];
      if (password !== undefined && typeof password !== 'string') {
        throw badRequest('password must be a string');
      }
      const algorithm = stringField(body, 'hashing_algorithm', HASHING_ALGORITHMS[0]);
      const knownAlgorithm = HASHING_ALGORITHMS.find((each) => each === algorithm);
      if (knownAlgorithm === undefined) {
        throw badRequest(`unsupported hashing_algorithm '${algorithm}'`);
      }
      // Neither password nor hash: the user exists but cannot log in with a password (RabbitMQ).
      // A plain password is hashed with scrypt, off the event loop.
      access.putUser(
        typeof password === 'string'
          ? { name, ...(await hashNewPassword(password)), tags }
          : {
              name,
              passwordHash: stringField(body, 'password_hash', ''),
              hashingAlgorithm: knownAlgorithm,
              tags,
            },
      );
      await operations.whenDurable(context.broker);
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/users/:user',
    access: 'administrator',
    async handle(context) {
      if (!context.broker.access.deleteUser(context.params['user'] ?? '')) throw notFound();
      await operations.whenDurable(context.broker);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/api/users/:user/permissions',
    access: 'administrator',
    handle(context) {
      const name = context.params['user'] ?? '';
      userView(context, name);
      return ok(permissionViews(context, (_vhost, user) => user === name));
    },
  },
  {
    method: 'GET',
    path: '/api/permissions',
    access: 'administrator',
    handle: (context) => ok(permissionViews(context, () => true)),
  },
  {
    method: 'GET',
    path: '/api/permissions/:vhost/:user',
    access: 'administrator',
    handle(context) {
      const { vhost, user } = context.params;
      const found = permissionViews(
        context,
        (entryVhost, entryUser) => entryVhost === vhost && entryUser === user,
      );
      if (found.length === 0) throw notFound();
      return ok(found[0]);
    },
  },
  {
    method: 'PUT',
    path: '/api/permissions/:vhost/:user',
    access: 'administrator',
    async handle(context) {
      const vhost = context.params['vhost'] ?? '';
      const user = context.params['user'] ?? '';
      const body = jsonBody(context);
      const access = context.broker.access;
      if (!context.broker.vhosts.has(vhost)) throw badRequest(`no vhost '${vhost}'`);
      if (access.getUser(user) === undefined) throw badRequest(`no user '${user}'`);
      const permission = {
        configure: stringField(body, 'configure', null),
        write: stringField(body, 'write', null),
        read: stringField(body, 'read', null),
      };
      for (const [kind, pattern] of Object.entries(permission)) {
        try {
          new RegExp(pattern);
        } catch {
          throw badRequest(`${kind} is not a valid regular expression: '${pattern}'`);
        }
      }
      const isNew = !access.canAccessVhost(user, vhost);
      access.setPermission(vhost, user, permission);
      await operations.whenDurable(context.broker);
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/permissions/:vhost/:user',
    access: 'administrator',
    async handle(context) {
      const vhost = context.params['vhost'] ?? '';
      const user = context.params['user'] ?? '';
      if (!context.broker.access.canAccessVhost(user, vhost)) throw notFound();
      context.broker.access.clearPermission(vhost, user);
      await operations.whenDurable(context.broker);
      return noContent();
    },
  },
];
