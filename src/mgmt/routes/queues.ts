// /api/queues: list (paged), show, declare, delete, purge, get messages, and a queue's
// bindings. Mutations run through the broker's own operations with AMQP's permission checks.

import { type GetAckMode, operations } from '../../net/index.js';
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
import { bindingView, defaultBindingView, queueView } from '../views.js';
import { listedVhosts, visibleVhost } from './visibility.js';

const ACK_MODES: GetAckMode[] = [
  'ack_requeue_true',
  'ack_requeue_false',
  'reject_requeue_true',
  'reject_requeue_false',
];

async function listQueues(context: ApiContext) {
  const vhosts = listedVhosts(context);
  const stats = await sampledStats(context);
  const items = vhosts.flatMap((vhost) =>
    [...vhost.queues.values()].map((queue) => queueView(queue, context.broker, stats)),
  );
  return ok(listReply(items, context.request.query));
}

function namedQueue(context: ApiContext) {
  const queue = visibleVhost(context).queues.get(context.params['name'] ?? '');
  if (queue === undefined) throw notFound();
  return queue;
}

function vhostAndName(context: ApiContext): [string, string] {
  return [context.params['vhost'] ?? '', context.params['name'] ?? ''];
}

export const queueRoutes: Route[] = [
  { method: 'GET', path: '/api/queues', access: 'management', handle: listQueues },
  { method: 'GET', path: '/api/queues/:vhost', access: 'management', handle: listQueues },
  {
    method: 'GET',
    path: '/api/queues/:vhost/:name',
    access: 'management',
    async handle(context) {
      const queue = namedQueue(context);
      return ok(queueView(queue, context.broker, await sampledStats(context)));
    },
  },
  {
    method: 'PUT',
    path: '/api/queues/:vhost/:name',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      const body = jsonBody(context);
      requirePermission(context.broker, context.principal, vhost, 'configure', 'queue', name);
      const isNew = await operations.declareQueue(context.broker, vhost, name, {
        isDurable: booleanField(body, 'durable', false),
        isAutoDelete: booleanField(body, 'auto_delete', false),
        arguments: objectField(body, 'arguments'),
      });
      return createdOrUpdated(isNew);
    },
  },
  {
    method: 'DELETE',
    path: '/api/queues/:vhost/:name',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      requirePermission(context.broker, context.principal, vhost, 'configure', 'queue', name);
      const query = context.request.query;
      await operations.deleteQueue(context.broker, vhost, name, {
        isIfEmpty: query.get('if-empty') === 'true',
        isIfUnused: query.get('if-unused') === 'true',
      });
      return noContent();
    },
  },
  {
    method: 'DELETE',
    path: '/api/queues/:vhost/:name/contents',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      requirePermission(context.broker, context.principal, vhost, 'read', 'queue', name);
      await operations.purgeQueue(context.broker, vhost, name);
      return noContent();
    },
  },
  {
    method: 'POST',
    path: '/api/queues/:vhost/:name/get',
    access: 'management',
    async handle(context) {
      const [vhost, name] = vhostAndName(context);
      const body = jsonBody(context);
      requirePermission(context.broker, context.principal, vhost, 'read', 'queue', name);
      const count = body['count'] ?? 1;
      if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > 10_000) {
        throw badRequest('count must be an integer from 1 to 10000');
      }
      const ackMode = stringField(body, 'ackmode', 'ack_requeue_true') as GetAckMode;
      if (!ACK_MODES.includes(ackMode)) {
        throw badRequest(`ackmode must be one of ${ACK_MODES.join(', ')}`);
      }
      const encoding = stringField(body, 'encoding', 'auto');
      if (encoding !== 'auto' && encoding !== 'base64') {
        throw badRequest('encoding must be auto or base64');
      }
      const truncate = body['truncate'];
      const messages = await operations.getMessages(
        context.broker,
        vhost,
        name,
        count as number,
        ackMode,
      );
      return ok(
        messages.map((message) => {
          const payloadBytes =
            typeof truncate === 'number' && truncate >= 0
              ? message.body.subarray(0, truncate)
              : message.body;
          const text = payloadBytes.toString('utf8');
          // "auto" sends text when the bytes are valid UTF-8, as RabbitMQ does.
          const isText = encoding === 'auto' && Buffer.from(text, 'utf8').equals(payloadBytes);
          return {
            payload_bytes: message.body.length,
            redelivered: message.isRedelivered,
            exchange: message.exchange,
            routing_key: message.routingKey,
            message_count: message.messageCount,
            properties: message.properties,
            payload: isText ? text : payloadBytes.toString('base64'),
            payload_encoding: isText ? 'string' : 'base64',
          };
        }),
      );
    },
  },
  {
    method: 'GET',
    path: '/api/queues/:vhost/:name/bindings',
    access: 'management',
    handle(context) {
      const queue = namedQueue(context);
      return ok([defaultBindingView(queue), ...[...queue.bindings].map(bindingView)]);
    },
  },
];
