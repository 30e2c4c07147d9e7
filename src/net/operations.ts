// What the management API does to a running broker, through the code paths AMQP uses (the
// vhost's declare and bind checks, the queue lifecycle, routing with CC/BCC, shard requests),
// but without a client channel. Network thread only. A refusal is an OperationError carrying
// the AMQP reply code and text RabbitMQ would have sent; the HTTP layer maps it to a status.

import {
  AmqpError,
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
import { type Broker, RABBITMQ_VERSION } from './broker.js';
import {
  loadDefinitions,
  type Definitions,
  operatorPolicyParameter,
  policyJson,
  vhostLimitsParameter,
} from './definitions.js';
import { type Exchange, isExchangeType, QueueRecord } from './exchange.js';
import { resourceName } from './protocol-errors.js';
import { senderSelectedRoutes, withoutBcc } from './sender-selected.js';
import type { VirtualHost } from './vhost.js';

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
/** Not an AMQP code: the request itself is malformed (HTTP 400 in RabbitMQ's API). */
export const BAD_REQUEST = 400;

/** A management operation refused, with the AMQP reply code and RabbitMQ's reply text. */
export class OperationError extends Error {
  readonly replyCode: number;

  constructor(replyCode: number, text: string) {
    super(text);
    this.name = 'OperationError';
    this.replyCode = replyCode;
  }
}

/** Runs `action`, turning the protocol errors the shared code paths throw into OperationErrors. */
function asOperation<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof AmqpError) throw new OperationError(error.replyCode, error.replyText);
    throw error;
  }
}

/** Resolves once every definition change made so far is durable (shards woken first). */
export function whenDurable(broker: Broker): Promise<void> {
  broker.wakeShards();
  return new Promise((resolve) => broker.whenDefinitionsDurable(resolve));
}

export function vhostOrThrow(broker: Broker, name: string): VirtualHost {
  const vhost = broker.vhosts.get(name);
  if (vhost === undefined) throw new OperationError(NOT_FOUND, `no vhost '${name}'`);
  return vhost;
}

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

/** The broker's definitions now, in RabbitMQ's JSON (exclusive queues left out, as RabbitMQ does). */
export function exportDefinitions(
  broker: Broker,
  version: string,
): Definitions & {
  rabbit_version: string;
  product_name: string;
  product_version: string;
} {
  const definitions = {
    rabbit_version: RABBITMQ_VERSION,
    product_name: 'Warren',
    product_version: version,
    users: broker.access.listUsers().map((user) => ({
      name: user.name,
      password_hash: user.passwordHash,
      hashing_algorithm: user.hashingAlgorithm,
      tags: user.tags,
    })),
    vhosts: [...broker.vhosts.keys()].map((name) => ({ name })),
    permissions: broker.access.listPermissions().map((entry) => ({
      user: entry.user,
      vhost: entry.vhost,
      ...entry.permission,
    })),
    parameters: [] as NonNullable<Definitions['parameters']>,
    policies: [] as NonNullable<Definitions['policies']>,
    exchanges: [] as NonNullable<Definitions['exchanges']>,
    queues: [] as NonNullable<Definitions['queues']>,
    bindings: [] as NonNullable<Definitions['bindings']>,
  };
  for (const vhost of broker.vhosts.values()) {
    if (Object.keys(vhost.limits).length > 0) {
      definitions.parameters.push(vhostLimitsParameter(vhost.name, vhost.limits));
    }
    for (const policy of broker.operatorPolicies.get(vhost.name)?.values() ?? []) {
      definitions.parameters.push(operatorPolicyParameter(policy));
    }
    for (const policy of broker.policies.get(vhost.name)?.values() ?? []) {
      definitions.policies.push(policyJson(policy));
    }
    for (const exchange of vhost.exchanges.values()) {
      if (exchange.name === '' || exchange.name.startsWith('amq.')) continue;
      definitions.exchanges.push({
        name: exchange.name,
        vhost: vhost.name,
        type: exchange.type,
        durable: exchange.isDurable,
        auto_delete: exchange.isAutoDelete,
        internal: exchange.isInternal,
        arguments: exchange.arguments,
      });
      for (const binding of exchange.outgoing) {
        const destination = binding.destination;
        if (destination instanceof QueueRecord && destination.isExclusive) continue;
        definitions.bindings.push({
          source: exchange.name,
          vhost: vhost.name,
          destination: destination.name,
          destination_type: destination instanceof QueueRecord ? 'queue' : 'exchange',
          routing_key: binding.routingKey,
          arguments: binding.arguments,
        });
      }
    }
    for (const queue of vhost.queues.values()) {
      if (queue.isExclusive) continue;
      definitions.queues.push({
        name: queue.name,
        vhost: vhost.name,
        durable: queue.isDurable,
        auto_delete: queue.isAutoDelete,
        arguments: queue.arguments,
      });
    }
  }
  return definitions;
}

/** What a vhost's export holds (RabbitMQ's GET /api/definitions/v). */
const VHOST_SCOPED = ['parameters', 'policies', 'queues', 'exchanges', 'bindings'] as const;

/**
 * One vhost's definitions as RabbitMQ exports them: its parameters, policies, queues, exchanges
 * and bindings, without users, vhosts, permissions or a `vhost` field on each entry.
 */
export function exportVhostDefinitions(
  broker: Broker,
  vhostName: string,
  version: string,
): Record<string, unknown> {
  vhostOrThrow(broker, vhostName);
  const all = exportDefinitions(broker, version);
  const scoped: Record<string, unknown> = {
    rabbit_version: all.rabbit_version,
    product_name: all.product_name,
    product_version: all.product_version,
  };
  for (const key of VHOST_SCOPED) {
    const entries = all[key] as { vhost: string }[];
    scoped[key] = entries
      .filter((entry) => entry.vhost === vhostName)
      .map(({ vhost: _vhost, ...rest }) => rest);
  }
  return scoped;
}

/**
 * Imports definitions into one vhost (RabbitMQ's POST /api/definitions/v): every entry lands in
 * that vhost whatever its own `vhost` says; users, vhosts and permissions are ignored.
 */
export function importVhostDefinitions(
  broker: Broker,
  vhostName: string,
  definitions: Definitions,
): Promise<void> {
  vhostOrThrow(broker, vhostName);
  const scoped: Record<string, unknown> = {};
  for (const key of VHOST_SCOPED) {
    const entries: unknown = definitions[key];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new OperationError(BAD_REQUEST, `${key} must be a list`);
    scoped[key] = entries.map((entry: Record<string, unknown>) => ({ ...entry, vhost: vhostName }));
  }
  return importDefinitions(broker, scoped as Definitions);
}

/** Applies definitions as the start-up file is applied; resolves once they are durable. */
export async function importDefinitions(broker: Broker, definitions: Definitions): Promise<void> {
  try {
    asOperation(() => loadDefinitions(broker, definitions));
  } catch (error) {
    if (error instanceof OperationError) throw error;
    throw new OperationError(BAD_REQUEST, (error as Error).message);
  }
  await whenDurable(broker);
}
