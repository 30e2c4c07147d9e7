// What the management API does to a running broker, through the code paths AMQP uses (the
// vhost's declare and bind checks, the queue lifecycle, routing with CC/BCC, shard requests),
// but without a client channel. Network thread only. A refusal is an OperationError carrying
// the AMQP reply code and text RabbitMQ would have sent; the HTTP layer maps it to a status.

import {
  type BasicProperties,
  ByteWriter,
  decodeProperties,
  encodeProperties,
  type FieldTable,
} from '../codec/index.js';
import {
  MessageBlockView,
  OutgoingPublish,
  PUBLISH_FLAG_PERSISTENT,
  SETTLE_DISCARD,
} from '../shard/api.js';
import type { Broker } from './broker.js';
import {
  asOperation,
  BAD_REQUEST,
  OperationError,
  vhostOrThrow,
  whenDurable,
} from './operation-basics.js';
import { type Exchange, isExchangeType, QueueRecord } from './exchange.js';
import { resourceName } from './protocol-errors.js';
import { senderSelectedRoutes, withoutBcc } from './sender-selected.js';
import type { VirtualHost } from './vhost.js';

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
export {
  asOperation,
  BAD_REQUEST,
  OperationError,
  vhostOrThrow,
  whenDurable,
} from './operation-basics.js';
export {
  exportDefinitions,
  exportVhostDefinitions,
  importDefinitions,
  importVhostDefinitions,
} from './definitions-transfer.js';

export function queueOrThrow(broker: Broker, vhostName: string, name: string): QueueRecord {
  return asOperation(() => vhostOrThrow(broker, vhostName).queueOrThrow(name));
}

export function exchangeOrThrow(broker: Broker, vhostName: string, name: string): Exchange {
  return asOperation(() => vhostOrThrow(broker, vhostName).exchangeOrThrow(name));
}

/** Creates a vhost; resolves once it is durable. Returns whether it is new. */
export async function putVhost(broker: Broker, name: string): Promise<boolean> {
  if (name === '') throw new OperationError(BAD_REQUEST, 'vhost name must not be empty');
  const isNew = !broker.vhosts.has(name);
  broker.addVhost(name);
  await whenDurable(broker);
  return isNew;
}

export async function deleteVhost(broker: Broker, name: string): Promise<void> {
  if (!broker.deleteVhost(name)) throw new OperationError(NOT_FOUND, `no vhost '${name}'`);
  await whenDurable(broker);
}

/** Arguments as JSON gives them; every JSON value is a field value. */
export type JsonArguments = Record<string, unknown>;

export interface ExchangeSpec {
  type: string;
  isDurable: boolean;
  isAutoDelete: boolean;
  isInternal: boolean;
  arguments: JsonArguments;
}

/** exchange.declare as a channel does it (equivalence checks included); returns whether new. */
export async function declareExchange(
  broker: Broker,
  vhostName: string,
  name: string,
  spec: ExchangeSpec,
): Promise<boolean> {
  const vhost = vhostOrThrow(broker, vhostName);
  if (name === '') {
    throw new OperationError(ACCESS_REFUSED, 'operation not permitted on the default exchange');
  }
  const type = spec.type;
  if (!isExchangeType(type)) {
    throw new OperationError(BAD_REQUEST, `unknown exchange type '${type}'`);
  }
  const isNew = !vhost.exchanges.has(name);
  asOperation(() =>
    vhost.declareExchange(
      name,
      type,
      { isDurable: spec.isDurable, isAutoDelete: spec.isAutoDelete, isInternal: spec.isInternal },
      spec.arguments as FieldTable,
    ),
  );
  await whenDurable(broker);
  return isNew;
}

export async function deleteExchange(
  broker: Broker,
  vhostName: string,
  name: string,
  isIfUnused: boolean,
): Promise<void> {
  exchangeOrThrow(broker, vhostName, name);
  asOperation(() => vhostOrThrow(broker, vhostName).deleteExchange(name, isIfUnused));
  await whenDurable(broker);
}

export interface QueueSpec {
  isDurable: boolean;
  isAutoDelete: boolean;
  arguments: JsonArguments;
}

/** queue.declare as a channel does it (never exclusive: no connection owns it); returns whether new. */
export async function declareQueue(
  broker: Broker,
  vhostName: string,
  name: string,
  spec: QueueSpec,
): Promise<boolean> {
  const vhost = vhostOrThrow(broker, vhostName);
  if (name === '') throw new OperationError(BAD_REQUEST, 'queue name must not be empty');
  if (name.startsWith('amq.')) {
    throw new OperationError(
      ACCESS_REFUSED,
      `queue name '${name}' contains reserved prefix 'amq.*'`,
    );
  }
  const existing = vhost.queues.get(name);
  asOperation(() => {
    if (existing !== undefined) {
      broker.checkQueueEquivalent(existing, {
        method: 'queue.declare',
        queue: name,
        passive: false,
        durable: spec.isDurable,
        exclusive: false,
        autoDelete: spec.isAutoDelete,
        noWait: false,
        arguments: spec.arguments as FieldTable,
      });
      return;
    }
    broker.checkQueueLimit(vhost, name);
    broker.createQueue(
      vhost,
      name,
      { isDurable: spec.isDurable, isAutoDelete: spec.isAutoDelete, ownerConnectionId: 0 },
      spec.arguments as FieldTable,
    );
  });
  await whenDurable(broker);
  return existing === undefined;
}

/** queue.delete; a missing queue is a 404 here (RabbitMQ's API), unlike in AMQP. */
export function deleteQueue(
  broker: Broker,
  vhostName: string,
  name: string,
  conditions: { isIfEmpty: boolean; isIfUnused: boolean },
): Promise<number> {
  const queue = queueOrThrow(broker, vhostName, name);
  return new Promise<number>((resolve, reject) => {
    broker.deleteQueue(queue, conditions, (error, messageCount) => {
      if (error !== null) reject(new OperationError(PRECONDITION_FAILED, error));
      else broker.whenDefinitionsDurable(() => resolve(messageCount));
    });
    broker.wakeShards();
  });
}

/** queue.purge; resolves with the number of messages removed. */
export function purgeQueue(broker: Broker, vhostName: string, name: string): Promise<number> {
  const queue = queueOrThrow(broker, vhostName, name);
  return new Promise<number>((resolve) => {
    broker.links[queue.shardIndex]!.control(
      { op: 'queue.purge', queueId: queue.queueId },
      { onReply: (_code, messageCount) => resolve(messageCount) },
    );
    broker.wakeShards();
  });
}

export interface BindingSpec {
  vhost: string;
  source: string;
  destinationType: 'queue' | 'exchange';
  destination: string;
  routingKey: string;
  arguments: JsonArguments;
}

function bindingEnds(
  broker: Broker,
  spec: BindingSpec,
): { vhost: VirtualHost; source: Exchange; destination: QueueRecord | Exchange } {
  const vhost = vhostOrThrow(broker, spec.vhost);
  return asOperation(() => ({
    vhost,
    source: vhost.exchangeOrThrow(spec.source),
    destination:
      spec.destinationType === 'queue'
        ? vhost.queueOrThrow(spec.destination)
        : vhost.exchangeOrThrow(spec.destination),
  }));
}

export async function bind(broker: Broker, spec: BindingSpec): Promise<void> {
  const { vhost, source, destination } = bindingEnds(broker, spec);
  asOperation(() => vhost.bind(source, destination, spec.routingKey, spec.arguments as FieldTable));
  await whenDurable(broker);
}

export async function unbind(broker: Broker, spec: BindingSpec): Promise<void> {
  const { vhost, source, destination } = bindingEnds(broker, spec);
  if (source.findBinding(destination, spec.routingKey, spec.arguments as FieldTable) === null) {
    throw new OperationError(NOT_FOUND, 'no such binding');
  }
  asOperation(() =>
    vhost.unbind(source, destination, spec.routingKey, spec.arguments as FieldTable),
  );
  await whenDurable(broker);
}

/** RabbitMQ's API names message properties in snake case. */
export interface MessagePropertiesJson {
  content_type?: string;
  content_encoding?: string;
  headers?: FieldTable;
  delivery_mode?: number;
  priority?: number;
  correlation_id?: string;
  reply_to?: string;
  expiration?: string;
  message_id?: string;
  timestamp?: number;
  type?: string;
  user_id?: string;
  app_id?: string;
  cluster_id?: string;
}

const PROPERTY_NAMES: [keyof MessagePropertiesJson, keyof BasicProperties][] = [
  ['content_type', 'contentType'],
  ['content_encoding', 'contentEncoding'],
  ['headers', 'headers'],
  ['delivery_mode', 'deliveryMode'],
  ['priority', 'priority'],
  ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'],
  ['expiration', 'expiration'],
  ['message_id', 'messageId'],
  ['timestamp', 'timestamp'],
  ['type', 'type'],
  ['user_id', 'userId'],
  ['app_id', 'appId'],
  ['cluster_id', 'clusterId'],
];

function toBasicProperties(json: MessagePropertiesJson): BasicProperties {
  const properties: Record<string, unknown> = {};
  for (const [jsonName, name] of PROPERTY_NAMES) {
    const value = json[jsonName];
    if (value === undefined || value === null) continue;
    const isNumber = jsonName === 'delivery_mode' || jsonName === 'priority';
    const isTable = jsonName === 'headers';
    const isTimestamp = jsonName === 'timestamp';
    if (
      isNumber &&
      !(Number.isInteger(value) && (value as number) >= 0 && (value as number) < 256)
    ) {
      throw new OperationError(BAD_REQUEST, `property ${jsonName} must be an integer 0-255`);
    }
    if (isTimestamp && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      throw new OperationError(BAD_REQUEST, 'property timestamp must be a whole number of seconds');
    }
    if (isTable && (typeof value !== 'object' || Array.isArray(value))) {
      throw new OperationError(BAD_REQUEST, 'property headers must be an object');
    }
    if (!isNumber && !isTable && !isTimestamp && typeof value !== 'string') {
      throw new OperationError(BAD_REQUEST, `property ${jsonName} must be a string`);
    }
    properties[name] = value;
  }
  return properties as BasicProperties;
}

function toPropertiesJson(properties: BasicProperties): MessagePropertiesJson {
  const json: Record<string, unknown> = {};
  for (const [jsonName, name] of PROPERTY_NAMES) {
    if (properties[name] !== undefined) json[jsonName] = properties[name];
  }
  return json as MessagePropertiesJson;
}

/**
 * basic.publish from the API (RabbitMQ's "for testing" publish): routed like a client's
 * publish, written to the shards without confirms. Returns whether any queue took it.
 */
export function publish(
  broker: Broker,
  vhostName: string,
  exchangeName: string,
  routingKey: string,
  propertiesJson: MessagePropertiesJson,
  body: Buffer,
): boolean {
  const vhost = vhostOrThrow(broker, vhostName);
  const exchange = asOperation(() => vhost.exchangeOrThrow(exchangeName));
  if (exchange.isInternal) {
    throw new OperationError(
      ACCESS_REFUSED,
      `cannot publish to internal ${resourceName('exchange', exchange.name, vhostName)}`,
    );
  }
  if (Buffer.byteLength(routingKey) > 255) {
    throw new OperationError(BAD_REQUEST, 'routing key longer than 255 bytes');
  }
  const properties = toBasicProperties(propertiesJson);
  const writer = new ByteWriter(256);
  // Headers the codec cannot encode (a number out of range, say) refuse the publish.
  asOperation(() => encodeProperties(writer, properties));
  let propertiesBytes = writer.take();
  const selected = asOperation(() =>
    senderSelectedRoutes(propertiesBytes, 0, propertiesBytes.length),
  );
  const exchangeBytes = Buffer.from(exchange.name, 'utf8');
  const routingKeyBytes = Buffer.from(routingKey, 'utf8');
  // The head is basic.publish's exchange and routing key, as short strings.
  const head = Buffer.concat([
    Buffer.from([exchangeBytes.length]),
    exchangeBytes,
    Buffer.from([routingKeyBytes.length]),
    routingKeyBytes,
  ]);
  const queues = [
    ...broker.router.route(
      vhost,
      exchange,
      routingKey,
      propertiesBytes,
      0,
      propertiesBytes.length,
      selected?.keys ?? null,
    ),
  ];
  if (selected?.hasBcc === true)
    propertiesBytes = withoutBcc(propertiesBytes, 0, propertiesBytes.length);
  // Connection 0 is nobody: no confirm or credit event can come back to it.
  const outgoing = new OutgoingPublish().setMessage(
    head,
    head.length,
    propertiesBytes,
    propertiesBytes.length,
    body,
    0,
    body.length,
  );
  outgoing.flags = properties.deliveryMode === 2 ? PUBLISH_FLAG_PERSISTENT : 0;
  const ids = new Uint32Array(queues.length);
  const shardIndexes = new Set(queues.map((queue) => queue.shardIndex));
  for (const shardIndex of shardIndexes) {
    let count = 0;
    for (const queue of queues) if (queue.shardIndex === shardIndex) ids[count++] = queue.queueId;
    broker.links[shardIndex]!.publish(outgoing, ids, count);
  }
  broker.wakeShards();
  return queues.length > 0;
}

/** How POST /api/queues/v/q/get settles what it took (RabbitMQ's ackmode). */
export type GetAckMode =
  'ack_requeue_true' | 'ack_requeue_false' | 'reject_requeue_true' | 'reject_requeue_false';

export interface GotMessage {
  exchange: string;
  routingKey: string;
  isRedelivered: boolean;
  /** Messages left in the queue after this one was taken. */
  messageCount: number;
  properties: MessagePropertiesJson;
  body: Buffer;
}

/** Channel ids of the pseudo connection 0 that API gets use; one per get request. */
let nextGetChannelId = 1;

/**
 * basic.get up to `count` messages for the API. Requeueing modes take them unacked on a
 * pseudo channel of connection 0 and then close that channel, which requeues them in place
 * with redelivered set, as RabbitMQ's management get does; reject_requeue_false rejects them
 * without requeue, so a queue with a dead-letter exchange dead-letters them ("rejected").
 */
export async function getMessages(
  broker: Broker,
  vhostName: string,
  queueName: string,
  count: number,
  ackMode: GetAckMode,
): Promise<GotMessage[]> {
  const queue = queueOrThrow(broker, vhostName, queueName);
  const isRequeue = ackMode === 'ack_requeue_true' || ackMode === 'reject_requeue_true';
  const isReject = ackMode === 'reject_requeue_false';
  const rejectedIds: number[] = [];
  const channelId = nextGetChannelId;
  nextGetChannelId = nextGetChannelId >= 0xffff ? 1 : nextGetChannelId + 1;
  const link = broker.links[queue.shardIndex]!;
  const view = new MessageBlockView();
  const messages: GotMessage[] = [];
  for (let i = 0; i < count; i++) {
    const message = await new Promise<GotMessage | null>((resolve) => {
      link.control(
        {
          op: 'get',
          queueId: queue.queueId,
          connectionId: 0,
          channelId,
          isNoAck: !isRequeue && !isReject,
        },
        {
          onReply: () => resolve(null),
          onGetOk: (deliveryId, isRedelivered, messageCount, bytes, start, end) => {
            if (isReject) rejectedIds.push(deliveryId);
            view.read(bytes, start, end);
            resolve({
              exchange: bytes.toString('utf8', view.exchangeStart, view.exchangeEnd),
              routingKey: bytes.toString('utf8', view.routingKeyStart, view.routingKeyEnd),
              isRedelivered,
              messageCount,
              properties: toPropertiesJson(
                decodeProperties(bytes, view.propertiesStart, view.propertiesEnd),
              ),
              body: Buffer.from(bytes.subarray(view.bodyStart, view.bodyEnd)),
            });
          },
        },
      );
      broker.wakeShards();
    });
    if (message === null) break;
    messages.push(message);
  }
  if (rejectedIds.length > 0) {
    link.settle(0, channelId, SETTLE_DISCARD, Float64Array.from(rejectedIds), rejectedIds.length);
  }
  // Closing the pseudo channel requeues what it holds and frees the shard's record of it.
  {
    await new Promise<void>((resolve) => {
      link.control(
        { op: 'channel.close', connectionId: 0, channelId },
        { onReply: () => resolve() },
      );
      broker.wakeShards();
    });
  }
  return messages;
}

/** Closes a client connection with 320 CONNECTION_FORCED and the given reason. */
export function closeConnection(broker: Broker, name: string, reason: string): void {
  for (const connection of broker.connections.values()) {
    if (connection.name === name) {
      connection.forceClose(reason);
      broker.flushDirty();
      return;
    }
  }
  throw new OperationError(NOT_FOUND, `no connection '${name}'`);
}
