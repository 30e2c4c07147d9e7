// The exchange and queue methods of one channel: declare, delete, bind, unbind, purge. Each
// checks what RabbitMQ checks for the client (permissions, exclusive access, reserved names),
// then asks the vhost or the queue lifecycle to apply it, and replies once the change is
// durable ("declare-ok" means on disk). Network thread only.

import type { AmqpMethod } from '../codec/index.js';
import { checkExclusiveAccess, type ChannelContext, queueNamed } from './channel-context.js';
import { isExchangeType } from './exchange.js';
import { serverGeneratedName } from './net-services.js';
import { channelError, connectionError, resourceName } from './protocol-errors.js';

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
const COMMAND_INVALID = 503;

type Method<Name extends AmqpMethod['method']> = Extract<AmqpMethod, { method: Name }>;

export class ChannelTopology {
  private readonly channel: ChannelContext;

  constructor(channel: ChannelContext) {
    this.channel = channel;
  }

  exchangeDeclare(method: Method<'exchange.declare'>): void {
    const { connection, vhost } = this.channel;
    const name = method.exchange;
    if (name === '') {
      throw channelError(ACCESS_REFUSED, 'operation not permitted on the default exchange', 40, 10);
    }
    if (method.passive) {
      if (!vhost.exchanges.has(name)) {
        throw channelError(NOT_FOUND, `no ${resourceName('exchange', name, vhost.name)}`, 40, 10);
      }
    } else {
      if (!isExchangeType(method.type)) {
        throw connectionError(COMMAND_INVALID, `unknown exchange type '${method.type}'`, 40, 10);
      }
      connection.checkPermission('configure', 'exchange', name, 40, 10);
      const alternate = method.arguments['alternate-exchange'];
      if (alternate !== undefined && typeof alternate === 'string') {
        connection.checkPermission('write', 'exchange', alternate, 40, 10);
      }
      vhost.declareExchange(
        name,
        method.type,
        { isDurable: method.durable, isAutoDelete: method.autoDelete, isInternal: method.internal },
        method.arguments,
      );
    }
    if (!method.noWait) this.replyWhenDurable({ method: 'exchange.declare-ok' });
  }

  exchangeDelete(method: Method<'exchange.delete'>): void {
    this.channel.connection.checkPermission('configure', 'exchange', method.exchange, 40, 20);
    this.channel.vhost.deleteExchange(method.exchange, method.ifUnused);
    if (!method.noWait) this.replyWhenDurable({ method: 'exchange.delete-ok' });
  }

  exchangeBind(method: Method<'exchange.bind' | 'exchange.unbind'>): void {
    const { connection, vhost } = this.channel;
    const isBind = method.method === 'exchange.bind';
    const methodId = isBind ? 30 : 40;
    connection.checkPermission('write', 'exchange', method.destination, 40, methodId);
    connection.checkPermission('read', 'exchange', method.source, 40, methodId);
    if (isBind) {
      const destination = vhost.exchangeOrThrow(method.destination);
      const source = vhost.exchangeOrThrow(method.source);
      vhost.bind(source, destination, method.routingKey, method.arguments);
    } else {
      // Unbinding something missing succeeds in RabbitMQ 3.x.
      const destination = vhost.exchanges.get(method.destination);
      const source = vhost.exchanges.get(method.source);
      if (source === undefined || destination === undefined) {
        if (method.source === '' || method.destination === '') {
          throw channelError(
            ACCESS_REFUSED,
            'operation not permitted on the default exchange',
            40,
            methodId,
          );
        }
      } else {
        vhost.unbind(source, destination, method.routingKey, method.arguments);
      }
    }
    if (!method.noWait) {
      this.replyWhenDurable(
        isBind ? { method: 'exchange.bind-ok' } : { method: 'exchange.unbind-ok' },
      );
    }
  }

  queueDeclare(method: Method<'queue.declare'>): void {
    const channel = this.channel;
    const { connection, services, vhost } = channel;
    let name = method.queue;
    if (!method.passive && name.startsWith('amq.')) {
      throw channelError(
        ACCESS_REFUSED,
        `queue name '${name}' contains reserved prefix 'amq.*'`,
        50,
        10,
      );
    }
    const existing = name === '' ? undefined : vhost.queues.get(name);
    if (existing !== undefined) {
      checkExclusiveAccess(channel, existing, 50, 10);
      if (!method.passive) {
        connection.checkPermission('configure', 'queue', name, 50, 10);
        services.queues.checkQueueEquivalent(existing, method);
      }
      services.queues.touchQueue(existing);
      channel.lastDeclaredQueue = name;
      if (method.noWait) return;
      const consumerCount = existing.consumers.size;
      services.links[existing.shardIndex]!.control(
        { op: 'queue.stats', queueId: existing.queueId },
        {
          onReply: (_code, messageCount) => {
            if (channel.isClosing) return;
            connection.sendMethod(channel.channelId, {
              method: 'queue.declare-ok',
              queue: name,
              messageCount,
              consumerCount,
            });
          },
        },
      );
      return;
    }
    if (method.passive) {
      throw channelError(NOT_FOUND, `no ${resourceName('queue', name, vhost.name)}`, 50, 10);
    }
    if (name === '') name = serverGeneratedName('amq.gen-');
    connection.checkPermission('configure', 'queue', name, 50, 10);
    services.queues.checkQueueLimit(vhost, name);
    // A dead-letter exchange also needs read on the queue and write on the exchange (RabbitMQ).
    const deadLetterExchange = method.arguments['x-dead-letter-exchange'];
    if (typeof deadLetterExchange === 'string') {
      connection.checkPermission('read', 'queue', name, 50, 10);
      connection.checkPermission('write', 'exchange', deadLetterExchange, 50, 10);
    }
    const queue = services.queues.createQueue(
      vhost,
      name,
      {
        isDurable: method.durable,
        isAutoDelete: method.autoDelete,
        ownerConnectionId: method.exclusive ? connection.connectionId : 0,
      },
      method.arguments,
    );
    if (method.exclusive) connection.exclusiveQueues.add(queue);
    channel.lastDeclaredQueue = name;
    if (!method.noWait) {
      this.replyWhenDurable({
        method: 'queue.declare-ok',
        queue: name,
        messageCount: 0,
        consumerCount: 0,
      });
    }
  }

  queueBind(method: Method<'queue.bind' | 'queue.unbind'>): void {
    const channel = this.channel;
    const { connection, vhost } = channel;
    const isBind = method.method === 'queue.bind';
    const methodId = isBind ? 20 : 50;
    const queueName = queueNamed(channel, method.queue, 50, methodId);
    connection.checkPermission('write', 'queue', queueName, 50, methodId);
    connection.checkPermission('read', 'exchange', method.exchange, 50, methodId);
    const args = method.arguments;
    if (isBind) {
      const queue = vhost.queueOrThrow(queueName);
      checkExclusiveAccess(channel, queue, 50, methodId);
      const exchange = vhost.exchangeOrThrow(method.exchange);
      vhost.bind(exchange, queue, method.routingKey, args);
    } else {
      // Unbinding something missing succeeds in RabbitMQ 3.x.
      if (method.exchange === '') {
        throw channelError(
          ACCESS_REFUSED,
          'operation not permitted on the default exchange',
          50,
          methodId,
        );
      }
      const queue = vhost.queues.get(queueName);
      const exchange = vhost.exchanges.get(method.exchange);
      if (queue !== undefined) checkExclusiveAccess(channel, queue, 50, methodId);
      if (queue !== undefined && exchange !== undefined)
        vhost.unbind(exchange, queue, method.routingKey, args);
    }
    if (isBind) {
      if (!method.noWait) this.replyWhenDurable({ method: 'queue.bind-ok' });
    } else {
      this.replyWhenDurable({ method: 'queue.unbind-ok' });
    }
  }

  queuePurge(method: Method<'queue.purge'>): void {
    const channel = this.channel;
    const { connection, services } = channel;
    const queueName = queueNamed(channel, method.queue, 50, 30);
    connection.checkPermission('read', 'queue', queueName, 50, 30);
    const queue = channel.vhost.queueOrThrow(queueName);
    checkExclusiveAccess(channel, queue, 50, 30);
    services.links[queue.shardIndex]!.control(
      { op: 'queue.purge', queueId: queue.queueId },
      method.noWait
        ? null
        : {
            onReply: (_code, messageCount) => {
              if (!channel.isClosing)
                connection.sendMethod(channel.channelId, {
                  method: 'queue.purge-ok',
                  messageCount,
                });
            },
          },
    );
  }

  queueDelete(method: Method<'queue.delete'>): void {
    const channel = this.channel;
    const { connection, services } = channel;
    const queueName = queueNamed(channel, method.queue, 50, 40);
    connection.checkPermission('configure', 'queue', queueName, 50, 40);
    const queue = channel.vhost.queues.get(queueName);
    const reply = (messageCount: number) => {
      if (!method.noWait) this.replyWhenDurable({ method: 'queue.delete-ok', messageCount });
    };
    if (queue === undefined) {
      // RabbitMQ 3.x treats deleting a missing queue as success.
      reply(0);
      return;
    }
    checkExclusiveAccess(channel, queue, 50, 40);
    // The shard checks if-empty before if-unused, in RabbitMQ's order.
    services.queues.deleteQueue(
      queue,
      { isIfEmpty: method.ifEmpty, isIfUnused: method.ifUnused },
      (error, messageCount) => {
        if (error !== null) {
          if (!channel.isClosing) channel.fail(channelError(PRECONDITION_FAILED, error, 50, 40));
          return;
        }
        reply(messageCount);
      },
    );
  }

  /** Sends a reply once every definition change so far is durable ("declare-ok" means on disk). */
  private replyWhenDurable(method: AmqpMethod): void {
    const channel = this.channel;
    channel.services.whenDefinitionsDurable(() => {
      if (!channel.isClosing) channel.connection.sendMethod(channel.channelId, method);
    });
  }
}
