// Turns the broker's records and sampled counters into the JSON objects RabbitMQ 3.10's API
// returns (field names and nesting as RabbitMQ has them), so tools written for RabbitMQ read
// them unchanged. Pure formatting: no request handling, no access checks.

import { hostname } from 'node:os';
import {
  type Binding,
  type Broker,
  type Channel,
  type ChannelConsumer,
  type Connection,
  type Exchange,
  policyForExchange,
  type Policy,
  policyForQueue,
  QueueRecord,
  type QueueStats,
} from '../net/index.js';
import type { StatsDetails } from './stats-details.js';
import type { ChannelCounters, ConnectionCounters, ExchangeCounters } from './stats-sampler.js';

export const NODE_NAME = `warren@${hostname()}`;

/** RabbitMQ's properties_key: the routing key (quoted), or "~" plus a hash when there are arguments. */
export function propertiesKey(routingKey: string, args: Record<string, unknown>): string {
  const quoted = routingKey.replace(/%/g, '%25').replace(/~/g, '%7E');
  const keys = Object.keys(args);
  if (keys.length === 0) return quoted === '' ? '~' : quoted;
  let hash = 0x811c9dc5;
  const text = JSON.stringify(args, (_key, value: unknown) =>
    typeof value === 'bigint' ? String(value) : value,
  );
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${quoted}~${(hash >>> 0).toString(36)}`;
}

/** The policy's keys, each capped by the operator policy's (the lower wins, as in RabbitMQ). */
function effectivePolicyDefinition(
  policy: Policy | null,
  operatorPolicy: Policy | null,
): Record<string, unknown> {
  const effective: Record<string, unknown> = { ...policy?.definition };
  for (const [key, value] of Object.entries(operatorPolicy?.definition ?? {})) {
    const own = effective[key];
    effective[key] =
      typeof own === 'number' && typeof value === 'number' ? Math.min(own, value) : value;
  }
  return effective;
}

export function queueView(
  queue: QueueRecord,
  broker: Broker,
  stats: StatsDetails,
): Record<string, unknown> {
  const policy = policyForQueue(broker.policies.get(queue.vhost), queue.name);
  const operatorPolicy = policyForQueue(broker.operatorPolicies.get(queue.vhost), queue.name);
  const sample = stats.sampler.latestSample?.queues.get(queue.queueId);
  const ready = sample?.ready ?? 0;
  const unacked = sample?.unacked ?? 0;
  const id = queue.queueId;
  const of = (read: (counters: QueueStats) => number, family: 'lengths' | 'msg_rates') =>
    stats.of((each) => {
      const counters = each.queues.get(id);
      return counters === undefined ? undefined : read(counters);
    }, family);
  const exclusiveConsumer = [...queue.consumers].find((consumer) => consumer.isExclusive);
  return {
    name: queue.name,
    vhost: queue.vhost,
    durable: queue.isDurable,
    auto_delete: queue.isAutoDelete,
    exclusive: queue.isExclusive,
    arguments: queue.arguments,
    node: NODE_NAME,
    type: 'classic',
    state: 'running',
    policy: policy?.name ?? null,
    operator_policy: operatorPolicy?.name ?? null,
    effective_policy_definition: effectivePolicyDefinition(policy, operatorPolicy),
    exclusive_consumer_tag: exclusiveConsumer?.tag ?? null,
    consumers: queue.consumers.size,
    consumer_capacity: queue.consumers.size > 0 ? 1 : 0,
    consumer_utilisation: null,
    messages: ready + unacked,
    messages_details: of((counters) => counters.ready + counters.unacked, 'lengths'),
    messages_ready: ready,
    messages_ready_details: of((counters) => counters.ready, 'lengths'),
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: of((counters) => counters.unacked, 'lengths'),
    // The shard's estimate: its share of the message blocks in memory plus per-copy overhead.
    memory: sample?.memoryBytes ?? 0,
    warren_shard: queue.shardIndex,
    message_stats: {
      publish: sample?.published ?? 0,
      publish_details: of((counters) => counters.published, 'msg_rates'),
      deliver: sample?.delivered ?? 0,
      deliver_details: of((counters) => counters.delivered, 'msg_rates'),
      deliver_get: sample?.delivered ?? 0,
      deliver_get_details: of((counters) => counters.delivered, 'msg_rates'),
      ack: sample?.acked ?? 0,
      ack_details: of((counters) => counters.acked, 'msg_rates'),
    },
  };
}

export function exchangeView(
  exchange: Exchange,
  broker: Broker,
  stats: StatsDetails,
): Record<string, unknown> {
  const policy = policyForExchange(broker.policies.get(exchange.vhost), exchange.name);
  const of = (field: keyof ExchangeCounters) =>
    stats.of((sample) => sample.exchanges.get(exchange)?.[field], 'msg_rates');
  return {
    name: exchange.name,
    vhost: exchange.vhost,
    type: exchange.type,
    durable: exchange.isDurable,
    auto_delete: exchange.isAutoDelete,
    internal: exchange.isInternal,
    arguments: exchange.arguments,
    policy: policy?.name ?? null,
    user_who_performed_action: '',
    message_stats: {
      publish_in: exchange.publishInCount,
      publish_in_details: of('publishIn'),
      publish_out: exchange.publishOutCount,
      publish_out_details: of('publishOut'),
    },
  };
}

export function bindingView(binding: Binding): Record<string, unknown> {
  const destination = binding.destination;
  return {
    source: binding.source.name,
    vhost: binding.source.vhost,
    destination: destination.name,
    destination_type: destination instanceof QueueRecord ? 'queue' : 'exchange',
    routing_key: binding.routingKey,
    arguments: binding.arguments,
    properties_key: propertiesKey(binding.routingKey, binding.arguments),
  };
}

/** The implicit binding of every queue to the default exchange, which RabbitMQ lists too. */
export function defaultBindingView(queue: QueueRecord): Record<string, unknown> {
  return {
    source: '',
    vhost: queue.vhost,
    destination: queue.name,
    destination_type: 'queue',
    routing_key: queue.name,
    arguments: {},
    properties_key: propertiesKey(queue.name, {}),
  };
}

export function connectionView(
  connection: Connection,
  stats: StatsDetails,
): Record<string, unknown> {
  const of = (field: keyof ConnectionCounters) =>
    stats.of((sample) => sample.connections.get(connection)?.[field], 'data_rates');
  const socket = connection.socket;
  const clientProperties = connection.clientProperties;
  const userProvidedName = clientProperties['connection_name'];
  return {
    name: connection.name,
    node: NODE_NAME,
    vhost: connection.vhost?.name ?? '',
    user: connection.userName,
    state: connection.isOpen ? 'running' : 'closing',
    type: 'network',
    protocol: 'AMQP 0-9-1',
    auth_mechanism: 'PLAIN',
    ssl: false,
    host: socket.localAddress ?? '',
    port: socket.localPort ?? 0,
    peer_host: connection.remoteAddress,
    peer_port: socket.remotePort ?? 0,
    channels: connection.channels.size,
    channel_max: connection.channelMax,
    frame_max: connection.frameMaxBytes,
    timeout: connection.heartbeatSeconds,
    client_properties: clientProperties,
    connected_at: connection.connectedAtMs,
    recv_oct: socket.bytesRead,
    recv_oct_details: of('receivedBytes'),
    send_oct: socket.bytesWritten,
    send_oct_details: of('sentBytes'),
    ...(typeof userProvidedName === 'string' ? { user_provided_name: userProvidedName } : {}),
  };
}

function channelName(connection: Connection, channel: Channel): string {
  return `${connection.name} (${channel.channelId})`;
}

function connectionDetails(connection: Connection): Record<string, unknown> {
  return {
    name: connection.name,
    peer_host: connection.remoteAddress,
    peer_port: connection.socket.remotePort ?? 0,
  };
}

export function channelView(
  connection: Connection,
  channel: Channel,
  stats: StatsDetails,
): Record<string, unknown> {
  const of = (field: keyof ChannelCounters) =>
    stats.of((sample) => sample.channels.get(channel)?.[field], 'msg_rates');
  return {
    name: channelName(connection, channel),
    number: channel.channelId,
    node: NODE_NAME,
    vhost: channel.vhost.name,
    user: connection.userName,
    state: channel.isClosing ? 'closing' : 'running',
    connection_details: connectionDetails(connection),
    consumer_count: channel.consumers.size,
    messages_unacknowledged: channel.deliveryTags.unackedCount,
    messages_unconfirmed: channel.unconfirmedCount,
    messages_uncommitted: channel.uncommittedCount,
    acks_uncommitted: 0,
    prefetch_count: channel.prefetchCount,
    global_prefetch_count: channel.globalPrefetchCount,
    confirm: channel.isInConfirmMode,
    transactional: channel.isInTransaction,
    message_stats: {
      publish: channel.publishedCount,
      publish_details: of('published'),
      confirm: channel.confirmedCount,
      confirm_details: of('confirmed'),
      deliver: channel.deliveredCount,
      deliver_details: of('delivered'),
      deliver_get: channel.deliveredCount,
      deliver_get_details: of('delivered'),
      ack: channel.ackedCount,
      ack_details: of('acked'),
    },
  };
}

export function consumerView(
  connection: Connection,
  channel: Channel,
  consumer: ChannelConsumer,
): Record<string, unknown> {
  return {
    consumer_tag: consumer.tag,
    queue: { name: consumer.queue.name, vhost: consumer.queue.vhost },
    channel_details: {
      ...connectionDetails(connection),
      name: channelName(connection, channel),
      number: channel.channelId,
      connection_name: connection.name,
      user: connection.userName,
    },
    ack_required: !consumer.isNoAck,
    exclusive: consumer.isExclusive,
    prefetch_count: channel.prefetchCount,
    active: true,
    activity_status: 'up',
    arguments: {},
  };
}
