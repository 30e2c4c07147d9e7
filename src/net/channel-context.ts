// What the parts of one channel share (publishing, consuming, transactions, direct reply-to,
// topology methods): the channel's identity, its connection's output, its delivery tags and
// the broker's services, plus the two checks every queue method makes. Network thread only.

import type { AmqpError, AmqpMethod, ByteWriter } from '../codec/index.js';
import type { PermissionKind } from './access-control.js';
import type { DeliveryTagTable } from './delivery-tags.js';
import type { QueueRecord } from './exchange.js';
import type { NetServices } from './net-services.js';
import { channelError, resourceName } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const NOT_FOUND = 404;
const RESOURCE_LOCKED = 405;

/** What the client said it understands, from connection.start-ok's capabilities. */
export interface ClientCapabilities {
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
  authenticationFailureClose: boolean;
}

/** A channel as its connection closes it. */
export interface ClosableChannel {
  readonly channelId: number;
  readonly isClosing: boolean;
  /** Releases consumers, unacked deliveries and held work; idempotent. */
  release(): void;
}

/** What a channel needs of its connection. */
export interface ChannelConnection {
  readonly connectionId: number;
  /** Output gathered for one socket write per turn. */
  readonly out: ByteWriter;
  readonly frameMaxBytes: number;
  readonly capabilities: ClientCapabilities;
  /** Exclusive queues it declared: they go when it goes. */
  readonly exclusiveQueues: Set<QueueRecord>;
  markDirty(): void;
  sendMethod(channelId: number, method: AmqpMethod): void;
  /** Throws 403 unless the user may do `kind` on the resource in this connection's vhost. */
  checkPermission(
    kind: PermissionKind,
    resourceKind: 'exchange' | 'queue',
    name: string,
    classId: number,
    methodId: number,
  ): void;
  /** It published during a resource alarm: stop reading it until the alarm clears. */
  blockForAlarm(reason: string): void;
  /** A channel error closes the channel; a connection error the connection. */
  failChannel(channel: ClosableChannel, error: AmqpError): void;
  /** The client sent channel.close: release the channel, forget it and send close-ok. */
  closeChannelFromClient(channel: ClosableChannel): void;
}

export interface ChannelContext {
  readonly channelId: number;
  readonly connection: ChannelConnection;
  readonly vhost: VirtualHost;
  readonly services: NetServices;
  /** Set when either side has sent channel.close; frames are then dropped until close-ok. */
  readonly isClosing: boolean;
  /** Delivery tags for consumer deliveries, gets and direct replies alike. */
  readonly deliveryTags: DeliveryTagTable;
  /** The queue the channel declared last: an empty queue name in a method means it. */
  lastDeclaredQueue: string;
  /** Closes this channel (or, for a connection error, the connection). */
  fail(error: AmqpError): void;
}

/** The queue named, or the last one declared on this channel when the name is empty. */
export function queueNamed(
  channel: ChannelContext,
  name: string,
  classId: number,
  methodId: number,
): string {
  if (name !== '') return name;
  if (channel.lastDeclaredQueue === '') {
    throw channelError(NOT_FOUND, 'no previously declared queue', classId, methodId);
  }
  return channel.lastDeclaredQueue;
}

/** Refuses access to another connection's exclusive queue (405, as RabbitMQ). */
export function checkExclusiveAccess(
  channel: ChannelContext,
  queue: QueueRecord,
  classId: number,
  methodId: number,
): void {
  if (queue.isExclusive && queue.ownerConnectionId !== channel.connection.connectionId) {
    throw channelError(
      RESOURCE_LOCKED,
      `cannot obtain exclusive access to locked ${resourceName('queue', queue.name, channel.vhost.name)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      classId,
      methodId,
    );
  }
}
