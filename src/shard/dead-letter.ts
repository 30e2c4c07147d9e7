// Builds the message block of a dead-lettered message: the x-death headers RabbitMQ 3.10 writes
// (rabbit_dead_letter:make_msg), the expiration property removed, and the dead-letter exchange
// and routing key in place of the original ones. Shard thread only; off the per-message path
// (only messages that die come here). Checked against RabbitMQ 3.10.8: the headers table is
// sorted by key, the first x-death entry keeps RabbitMQ's field order (count, reason, queue, time,
// exchange, routing-keys, original-expiration) while later ones are sorted, and a repeated death
// for the same queue and reason moves that entry to the front with its count raised and its
// other fields (time included) unchanged.

import {
  ByteWriter,
  decodeProperties,
  encodeProperties,
  type FieldTable,
  type FieldValue,
  Timestamp,
  TypedField,
} from '../codec/index.js';
import { MessageBlockView } from './records.js';

const view = new MessageBlockView();
const writer = new ByteWriter(4096);

/**
 * The block of `block` dead-lettered from `queueName` for `reason` at `nowMs`, addressed to
 * `deadLetterExchange` with `deadLetterRoutingKey` (null: the message's own routing key).
 */
export function deadLetterBlock(
  block: Buffer,
  reason: string,
  queueName: string,
  deadLetterExchange: string,
  deadLetterRoutingKey: string | null,
  nowMs: number,
): Buffer {
  view.read(block, 0, block.length);
  const exchange = block.toString('utf8', view.exchangeStart, view.exchangeEnd);
  const routingKey = block.toString('utf8', view.routingKeyStart, view.routingKeyEnd);
  const properties = decodeProperties(
    block,
    view.propertiesStart,
    view.propertiesEnd,
    undefined,
    true,
  );
  const headers = properties.headers ?? {};
  // The first routing key is the publish's own; CC and BCC headers name the others.
  const routingKeys: FieldValue[] = [routingKey];
  for (const key of ['CC', 'BCC']) {
    const routes = headers[key];
    if (Array.isArray(routes))
      for (const route of routes) if (typeof route === 'string') routingKeys.push(route);
  }
  const info: FieldTable = {
    reason,
    queue: queueName,
    time: new Timestamp(Math.floor(nowMs / 1000)),
    exchange,
    'routing-keys': routingKeys,
  };
  if (properties.expiration !== undefined) info['original-expiration'] = properties.expiration;
  properties.headers = updateXDeath(headers, info, queueName, reason, exchange);
  if (deadLetterRoutingKey !== null) delete properties.headers['CC'];
  delete properties.expiration;
  writer.reset();
  encodeProperties(writer, properties);
  const encoded = writer.take();
  const newRoutingKey = deadLetterRoutingKey ?? routingKey;
  const exchangeBytes = Buffer.byteLength(deadLetterExchange);
  const routingKeyBytes = Buffer.byteLength(newRoutingKey);
  const bodyBytes = view.bodyEnd - view.bodyStart;
  const out = Buffer.allocUnsafe(
    1 + exchangeBytes + 1 + routingKeyBytes + 4 + encoded.length + bodyBytes,
  );
  let at = 0;
  out[at++] = exchangeBytes;
  at += out.write(deadLetterExchange, at, 'utf8');
  out[at++] = routingKeyBytes;
  at += out.write(newRoutingKey, at, 'utf8');
  out.writeUInt32LE(encoded.length, at);
  at += 4;
  at += encoded.copy(out, at);
  block.copy(out, at, view.bodyStart, view.bodyEnd);
  return out;
}

function updateXDeath(
  headers: FieldTable,
  info: FieldTable,
  queueName: string,
  reason: string,
  exchange: string,
): FieldTable {
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths)) {
    // The first death also gets its own top-level headers (rabbitmq-server#1332).
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queueName;
    headers['x-first-death-exchange'] = exchange;
    headers['x-death'] = [{ count: new TypedField('l', 1), ...info }];
    return sortTable(headers);
  }
  let match: FieldTable | null = null;
  const others: FieldValue[] = [];
  for (const death of deaths) {
    if (
      match === null &&
      isTable(death) &&
      stringOf(death['queue']) === queueName &&
      stringOf(death['reason']) === reason
    ) {
      match = death;
    } else {
      others.push(death);
    }
  }
  const entry =
    match === null
      ? { count: new TypedField('l', 1), ...info }
      : { ...match, count: new TypedField('l', countOf(match['count']) + 1) };
  headers['x-death'] = [sortTable(entry), ...others];
  return sortTable(headers);
}

function isTable(value: FieldValue): value is FieldTable {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof TypedField) &&
    !(value instanceof Timestamp) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

function stringOf(value: FieldValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof TypedField && typeof value.value === 'string') return value.value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

function countOf(value: FieldValue | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (
    value instanceof TypedField &&
    typeof value.value !== 'string' &&
    typeof value.value !== 'boolean' &&
    !Buffer.isBuffer(value.value)
  )
    return Number(value.value);
  return 0;
}

/** Keys in byte order, as rabbit_misc:sort_field_table leaves a table. */
function sortTable(table: FieldTable): FieldTable {
  const sorted: FieldTable = {};
  const keys = Object.keys(table).sort((left, right) =>
    Buffer.compare(Buffer.from(left), Buffer.from(right)),
  );
  for (const key of keys) sorted[key] = table[key]!;
  return sorted;
}
